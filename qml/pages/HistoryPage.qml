import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"
import "../dialogs"

// How every run of the config ended, with each repository's size over time.
Pane {
    id: page
    property string configPath: ""
    property int selectedRow: -1
    onConfigPathChanged: if (configPath !== "") history.load(configPath)

    function reload() { history.reload() }

    function showRun(runId) {
        history.reload()
        selectedRow = history.rowOfRun(runId)
        runs.currentIndex = selectedRow
    }

    HistoryModel { id: history }

    RunLogDialog { id: logDialog }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        Label {
            text: qsTr("Repository size")
            font.bold: true
        }
        SizeChart {
            Layout.fillWidth: true
            Layout.preferredHeight: 200
            series: history.chartSeries
            maximum: history.chartMax
            ticks: history.chartTicks
        }

        Label {
            text: qsTr("Runs")
            font.bold: true
        }
        Label {
            visible: history.errorText !== ""
            text: history.errorText
            color: "#c62828"
        }

        RowLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 12

            ListView {
                id: runs
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: history
                currentIndex: page.selectedRow
                Accessible.name: qsTr("Runs")
                ScrollBar.vertical: ScrollBar {}
                onCurrentIndexChanged: page.selectedRow = currentIndex

                delegate: ItemDelegate {
                    id: runRow
                    required property int index
                    required property int runId
                    required property string started
                    required property string what
                    required property string repository
                    required property string outcome
                    required property string message
                    required property string sizes
                    width: ListView.view.width
                    highlighted: ListView.isCurrentItem
                    Accessible.name: started + " " + repository + " " + outcome
                    Accessible.onPressAction: clicked()
                    onClicked: runs.currentIndex = index
                    contentItem: RowLayout {
                        spacing: 12
                        Rectangle {
                            width: 10; height: 10; radius: 5
                            color: runRow.outcome === "success" ? "#2e7d32"
                                : runRow.outcome === "warning" ? "#b26a00"
                                : runRow.outcome === "cancelled" ? "#757575"
                                : runRow.outcome === "running" ? "#1e88e5" : "#c62828"
                        }
                        Label { text: runRow.started; font.family: "monospace"; opacity: 0.8 }
                        Label { text: runRow.repository; font.bold: true; Layout.preferredWidth: 90; elide: Text.ElideRight }
                        Label { text: runRow.outcome; Layout.preferredWidth: 70 }
                        Label {
                            Layout.fillWidth: true
                            text: runRow.message !== "" ? runRow.message : runRow.sizes
                            elide: Text.ElideRight
                            opacity: 0.8
                        }
                    }
                }

                Label {
                    anchors.centerIn: parent
                    visible: runs.count === 0
                    text: qsTr("No runs yet. “Back up now” starts one.")
                    opacity: 0.7
                }
            }

            Frame {
                Layout.preferredWidth: 340
                Layout.fillHeight: true
                visible: runs.currentItem !== null
                ColumnLayout {
                    anchors.fill: parent
                    spacing: 6
                    Label {
                        Layout.fillWidth: true
                        text: runs.currentItem ? qsTr("Run %1 · %2").arg(runs.currentItem.runId).arg(runs.currentItem.what) : ""
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        Layout.fillWidth: true
                        text: runs.currentItem ? runs.currentItem.repository + ": " + runs.currentItem.outcome : ""
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: text !== ""
                        text: runs.currentItem ? runs.currentItem.sizes : ""
                        wrapMode: Text.Wrap
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: text !== ""
                        text: runs.currentItem ? runs.currentItem.message : ""
                        wrapMode: Text.Wrap
                        Accessible.name: qsTr("Run message: %1").arg(text)
                    }
                    Item { Layout.fillHeight: true }
                    Button {
                        text: qsTr("Open full log")
                        icon.name: "text-x-log"
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: {
                            logDialog.runId = runs.currentItem.runId
                            logDialog.logText = history.logText(runs.currentItem.runId)
                            logDialog.open()
                        }
                    }
                }
            }
        }
    }
}
