import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import org.kde.kastell
import "../components"

// Restore the selection: first what would change on disk, a decision for every file that
// exists and differs (overwrite, keep both, skip), then the restore with progress, cancel
// and a summary. Nothing is replaced without the user's word.
Dialog {
    id: dialog
    property string configPath: ""
    property string repository: ""
    property string archive: ""
    property var paths: []
    // "original": back where they were; "into": directly into a chosen folder.
    property string mode: "original"
    title: mode === "original" ? qsTr("Restore to original location") : qsTr("Restore to a folder")
    modal: true
    closePolicy: runner.state === RestoreRunner.Running ? Popup.NoAutoClose : Popup.CloseOnEscape
    width: Math.min(parent ? parent.width - 40 : 900, 900)
    height: Math.min(parent ? parent.height - 40 : 620, 620)
    parent: Overlay.overlay
    anchors.centerIn: parent

    function start(restoreMode, fromArchive, selected) {
        mode = restoreMode
        archive = fromArchive
        paths = selected
        runner.clear()
        if (mode === "original" || folderField.text !== "")
            runner.prepare(configPath, repository, archive, paths, mode === "into" ? folderField.text : "")
        open()
    }

    RestoreRunner { id: runner }

    FolderDialog {
        id: folderPicker
        title: qsTr("Restore into")
        onAccepted: {
            folderField.text = decodeURIComponent(selectedFolder.toString().replace(/^file:\/\//, ""))
            runner.prepare(dialog.configPath, dialog.repository, dialog.archive, dialog.paths, folderField.text)
        }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        Label {
            Layout.fillWidth: true
            text: runner.destinationText
            wrapMode: Text.Wrap
            font.bold: true
        }
        RowLayout {
            Layout.fillWidth: true
            visible: dialog.mode === "into"
            Label { text: qsTr("Folder") }
            TextField {
                id: folderField
                Layout.fillWidth: true
                placeholderText: qsTr("/home/me/Restored")
                Accessible.name: qsTr("Restore into folder")
                onAccepted: checkButton.clicked()
            }
            Button {
                text: qsTr("Choose…")
                icon.name: "folder-open"
                Accessible.name: qsTr("Choose a folder")
                Accessible.onPressAction: clicked()
                onClicked: folderPicker.open()
            }
            Button {
                id: checkButton
                text: qsTr("Check")
                enabled: folderField.text !== "" && runner.state !== RestoreRunner.Running
                Accessible.name: qsTr("Check what would change")
                Accessible.onPressAction: clicked()
                onClicked: runner.prepare(dialog.configPath, dialog.repository, dialog.archive, dialog.paths, folderField.text)
            }
        }
        RowLayout {
            BusyIndicator { running: runner.state === RestoreRunner.Planning; visible: running; implicitWidth: 22; implicitHeight: 22 }
            Label {
                Layout.fillWidth: true
                text: runner.state === RestoreRunner.Planning ? qsTr("Comparing the archive with the disk…") : runner.planText
                wrapMode: Text.Wrap
                Accessible.name: text
            }
        }
        ErrorBanner {
            Layout.fillWidth: true
            text: runner.errorText
        }

        // The conflicts: each one needs a decision before anything is written.
        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: runner.conflictCount > 0
            RowLayout {
                Layout.fillWidth: true
                Label {
                    Layout.fillWidth: true
                    text: qsTr("%1 item(s) exist on disk and differ from the archive. What should happen to each?").arg(runner.conflictCount)
                    wrapMode: Text.Wrap
                    font.bold: true
                }
                Label { text: qsTr("All:"); opacity: 0.7 }
                Button { text: qsTr("Overwrite"); Accessible.name: qsTr("Overwrite all"); Accessible.onPressAction: clicked(); onClicked: runner.decideAll(RestoreRunner.Overwrite) }
                Button { text: qsTr("Keep both"); Accessible.name: qsTr("Keep both for all"); Accessible.onPressAction: clicked(); onClicked: runner.decideAll(RestoreRunner.KeepBoth) }
                Button { text: qsTr("Skip"); Accessible.name: qsTr("Skip all"); Accessible.onPressAction: clicked(); onClicked: runner.decideAll(RestoreRunner.Skip) }
            }
            ListView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: runner
                ScrollBar.vertical: ScrollBar {}
                Accessible.name: qsTr("Conflicts")
                delegate: ItemDelegate {
                    id: conflictRow
                    required property int index
                    required property string target
                    required property string sizeText
                    required property int decision
                    required property string archiveText
                    required property string diskText
                    required property bool canOverwrite
                    required property string whyNoOverwrite
                    width: ListView.view.width
                    Accessible.name: qsTr("%1 exists and differs").arg(target)
                    contentItem: RowLayout {
                        spacing: 8
                        Label { text: "⚠"; color: "#ef6c00" }
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 0
                            Label { Layout.fillWidth: true; text: conflictRow.target; elide: Text.ElideMiddle }
                            Label {
                                Layout.fillWidth: true
                                text: conflictRow.canOverwrite
                                      ? qsTr("In the archive: %1 · on disk: %2").arg(conflictRow.archiveText).arg(conflictRow.diskText)
                                      : qsTr("In the archive: %1 · on disk: %2 · cannot overwrite: %3").arg(conflictRow.archiveText).arg(conflictRow.diskText).arg(conflictRow.whyNoOverwrite)
                                opacity: 0.7
                                font.pixelSize: 11
                                elide: Text.ElideRight
                            }
                        }
                        Repeater {
                            model: [[RestoreRunner.Overwrite, qsTr("Overwrite")], [RestoreRunner.KeepBoth, qsTr("Keep both")], [RestoreRunner.Skip, qsTr("Skip")]]
                            delegate: RadioButton {
                                required property var modelData
                                text: modelData[1]
                                checked: conflictRow.decision === modelData[0]
                                enabled: modelData[0] !== RestoreRunner.Overwrite || conflictRow.canOverwrite
                                Accessible.name: qsTr("%1 %2").arg(modelData[1]).arg(conflictRow.target)
                                Accessible.onPressAction: clicked()
                                onClicked: runner.decide(conflictRow.index, modelData[0])
                            }
                        }
                    }
                }
            }
        }
        Item { Layout.fillHeight: true; visible: runner.conflictCount === 0 }

        ProgressBar {
            Layout.fillWidth: true
            visible: runner.state === RestoreRunner.Running || runner.state === RestoreRunner.Done || runner.state === RestoreRunner.Cancelled
            from: 0
            to: 1
            value: runner.progress
            Accessible.name: qsTr("Restore progress")
        }
        Label {
            Layout.fillWidth: true
            visible: runner.state === RestoreRunner.Running
            text: runner.progressText
            opacity: 0.8
        }
        Label {
            Layout.fillWidth: true
            visible: runner.summaryText !== ""
            text: runner.summaryText
            wrapMode: Text.Wrap
            font.bold: true
            Accessible.name: text
        }
        RowLayout {
            Layout.fillWidth: true
            Item { Layout.fillWidth: true }
            Label {
                visible: runner.state === RestoreRunner.Planned && runner.undecidedCount > 0
                text: qsTr("%1 item(s) still need a decision").arg(runner.undecidedCount)
                color: "#ef6c00"
            }
            Button {
                text: qsTr("Restore")
                icon.name: "document-revert"
                highlighted: true
                visible: runner.state === RestoreRunner.Planned
                enabled: runner.undecidedCount === 0
                Accessible.name: qsTr("Start restoring")
                Accessible.onPressAction: clicked()
                onClicked: runner.start()
            }
            Button {
                text: qsTr("Cancel restore")
                visible: runner.state === RestoreRunner.Running
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: runner.cancel()
            }
            Button {
                text: runner.state === RestoreRunner.Done ? qsTr("Done") : qsTr("Close")
                enabled: runner.state !== RestoreRunner.Running
                Accessible.name: qsTr("Close restore")
                Accessible.onPressAction: clicked()
                onClicked: dialog.close()
            }
        }
    }
}
