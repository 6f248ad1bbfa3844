import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// When the selected config is backed up by itself: a systemd user timer Kastell writes (or,
// without a systemd user instance, the window while it is open), and other schedules of the
// same config that would back it up twice.
Page {
    id: page
    implicitWidth: 800
    implicitHeight: 600
    property string configPath: ""
    onConfigPathChanged: if (configPath !== "") schedule.load(configPath)
    // The schedule was set, paused, resumed or turned off (the repository list shows it).
    signal scheduleChanged()

    ScheduleSettings {
        id: schedule
        onScheduledChanged: page.scheduleChanged()
        onEnabledChanged: page.scheduleChanged()
    }

    ScrollView {
        id: scroll
        anchors.fill: parent
        contentWidth: availableWidth

        ColumnLayout {
            width: scroll.availableWidth - 24
            x: 12
            spacing: 12

            Label {
                text: schedule.configPath
                font.bold: true
                elide: Text.ElideMiddle
                Layout.fillWidth: true
                Layout.topMargin: 8
            }

            GroupBox {
                title: qsTr("When to back up")
                Layout.fillWidth: true
                enabled: !schedule.busy
                ColumnLayout {
                    anchors.fill: parent
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: schedule.statusText
                        Accessible.name: text
                    }
                    RowLayout {
                        Label { text: qsTr("Every day at") }
                        TextField {
                            id: scheduleTime
                            text: schedule.timeText
                            enabled: scheduleCalendar.text === ""
                            implicitWidth: 70
                            Accessible.name: qsTr("Time of the daily backup")
                        }
                        Label { text: qsTr("or when") }
                        TextField {
                            id: scheduleCalendar
                            Layout.fillWidth: true
                            text: schedule.timeText === "" ? schedule.calendar : ""
                            placeholderText: qsTr("a systemd calendar, e.g. Mon..Fri 18:00")
                            Accessible.name: qsTr("Calendar of the backups")
                        }
                    }
                    CheckBox {
                        id: scheduleMains
                        text: qsTr("Only on mains power")
                        checked: schedule.acPowerOnly
                        Accessible.name: text
                        Accessible.onPressAction: toggle()
                    }
                    CheckBox {
                        id: scheduleMetered
                        text: qsTr("Not on a metered network connection")
                        checked: schedule.skipMetered
                        Accessible.name: text
                        Accessible.onPressAction: toggle()
                    }
                    // A repository on a removable drive: also back up when it is plugged in.
                    RowLayout {
                        visible: schedule.driveChoices.length > 0
                        CheckBox {
                            id: scheduleDrive
                            text: qsTr("Also back up when the drive of")
                            checked: schedule.driveRepository !== ""
                            Accessible.name: qsTr("Also back up when the drive is plugged in")
                            Accessible.onPressAction: toggle()
                        }
                        ComboBox {
                            id: scheduleDriveRepository
                            model: schedule.driveChoices
                            currentIndex: Math.max(0, schedule.driveChoices.indexOf(schedule.driveRepository))
                            Accessible.name: qsTr("Repository on the drive")
                        }
                        Label { text: qsTr("is plugged in") }
                    }
                    RowLayout {
                        Button {
                            text: schedule.scheduled ? qsTr("Change schedule") : qsTr("Back up every day")
                            Accessible.name: text
                            Accessible.onPressAction: clicked()
                            onClicked: schedule.apply(scheduleTime.text, scheduleCalendar.text,
                                                      scheduleMains.checked, scheduleMetered.checked,
                                                      scheduleDrive.checked ? scheduleDriveRepository.currentText : "")
                        }
                        Button {
                            visible: schedule.scheduled && schedule.systemdAnswers
                            text: schedule.enabled ? qsTr("Pause") : qsTr("Resume")
                            Accessible.name: text
                            Accessible.onPressAction: clicked()
                            onClicked: schedule.enabled ? schedule.pause() : schedule.resume()
                        }
                        Button {
                            visible: schedule.scheduled
                            text: qsTr("Turn off")
                            Accessible.name: qsTr("Turn the schedule off")
                            Accessible.onPressAction: clicked()
                            onClicked: schedule.turnOff()
                        }
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: text !== ""
                        wrapMode: Text.WordWrap
                        color: "#b26a00"
                        text: schedule.otherText
                    }
                    Button {
                        visible: schedule.canDisableOther
                        text: qsTr("Switch the other schedule off")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: schedule.disableOther()
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: text !== ""
                        wrapMode: Text.WordWrap
                        color: "#c0392b"
                        text: schedule.errorText
                    }
                }
            }
        }
    }
}
