import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// What changed between two archives: added, removed and changed paths with sizes
// (borg diff).
Dialog {
    id: dialog
    property string configPath: ""
    property string repository: ""
    property var archiveNames: []
    title: qsTr("Compare two archives")
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(parent ? parent.width - 40 : 900, 900)
    height: Math.min(parent ? parent.height - 40 : 600, 600)
    parent: Overlay.overlay
    anchors.centerIn: parent
    onClosed: compare.cancel()

    // Newest first: by default, what the latest backup changed.
    function start(newer) {
        newerBox.currentIndex = Math.max(0, archiveNames.indexOf(newer))
        olderBox.currentIndex = Math.min(archiveNames.length - 1, newerBox.currentIndex + 1)
        open()
    }

    ArchiveCompare { id: compare }

    ColumnLayout {
        anchors.fill: parent
        spacing: 6
        RowLayout {
            Layout.fillWidth: true
            Label { text: qsTr("From") }
            ComboBox {
                id: olderBox
                Layout.fillWidth: true
                model: dialog.archiveNames
                Accessible.name: qsTr("Older archive")
            }
            Label { text: qsTr("to") }
            ComboBox {
                id: newerBox
                Layout.fillWidth: true
                model: dialog.archiveNames
                Accessible.name: qsTr("Newer archive")
            }
            Button {
                text: qsTr("Compare")
                enabled: !compare.busy && olderBox.currentText !== newerBox.currentText
                Accessible.name: qsTr("Compare")
                Accessible.onPressAction: clicked()
                onClicked: compare.compare(dialog.configPath, dialog.repository, olderBox.currentText, newerBox.currentText)
            }
        }
        RowLayout {
            BusyIndicator { running: compare.busy; visible: running; implicitWidth: 22; implicitHeight: 22 }
            Label {
                Layout.fillWidth: true
                text: compare.summary
                Accessible.name: text
                wrapMode: Text.Wrap
            }
        }
        ErrorBanner {
            Layout.fillWidth: true
            text: compare.errorText
        }
        ListView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: compare
            ScrollBar.vertical: ScrollBar {}
            Accessible.name: qsTr("Differences")
            delegate: ItemDelegate {
                required property string path
                required property string change
                required property string sizeText
                required property string details
                width: ListView.view.width
                Accessible.name: qsTr("%1 %2").arg(change).arg(path)
                contentItem: RowLayout {
                    spacing: 10
                    Label {
                        Layout.preferredWidth: 70
                        text: change === "added" ? qsTr("added") : change === "removed" ? qsTr("removed") : qsTr("changed")
                        color: change === "added" ? "#2e7d32" : change === "removed" ? "#c62828" : "#ef6c00"
                        font.bold: true
                    }
                    Label { Layout.fillWidth: true; text: path; elide: Text.ElideMiddle }
                    Label { text: sizeText; font.family: "monospace"; opacity: 0.8 }
                    Label { text: details; opacity: 0.6; Layout.preferredWidth: 160; elide: Text.ElideRight }
                }
            }
        }
    }
}
