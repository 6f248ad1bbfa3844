import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// Restore from an existing backup: a new or reinstalled computer, the saved key and the
// passphrase, and the home comes back. Then, if wanted, Kastell goes on backing up into the
// same repository.
Pane {
    id: page
    signal cancelled()
    signal adopted(string configPath)
    property int step: 0
    readonly property var titles: [qsTr("The repository"), qsTr("The archive"), qsTr("Restore")]

    Recovery { id: recovery }
    // Reaching a server from a new computer: Kastell's key, the host key, the test.
    SetupWizard { id: sshHelper }

    onVisibleChanged: if (visible && recovery.adoptedConfig !== "") { step = 0 }

    function location() { return onServer.checked ? sshForm.location() : localFolder.text }
    // The chosen folders (all of the archive when none is ticked).
    function chosenFolders() {
        var chosen = []
        for (var i = 0; i < folderRepeater.count; i++) {
            var box = folderRepeater.itemAt(i)
            if (box && box.checked) chosen.push(recovery.folders[i].path)
        }
        return chosen
    }

    FileDialog {
        id: keyPicker
        title: qsTr("The key file you saved")
        onAccepted: keyFile.text = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
    }
    FolderDialog {
        id: targetPicker
        title: qsTr("Restore into")
        onAccepted: target.text = decodeURIComponent(selectedFolder.toString().replace(/^file:\/\//, ""))
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 10

        Label {
            text: qsTr("Restore from an existing backup — step %1 of %2: %3").arg(page.step + 1).arg(page.titles.length).arg(page.titles[page.step])
            font.pixelSize: 18
            Accessible.name: text
        }

        StackLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            currentIndex: page.step

            // 1. The repository, its key and the passphrase
            ScrollView {
                clip: true
                contentWidth: availableWidth
                ColumnLayout {
                    width: parent.width
                    spacing: 8
                    ButtonGroup { id: whereGroup }
                    ButtonGroup { id: keyGroup }
                    RadioButton {
                        id: onDisk
                        ButtonGroup.group: whereGroup
                        checked: true
                        text: qsTr("On a disk or in a folder")
                        Accessible.name: qsTr("The repository is in a folder")
                        Accessible.onPressAction: checked = true
                    }
                    TextField {
                        id: localFolder
                        visible: onDisk.checked
                        Layout.fillWidth: true
                        placeholderText: qsTr("The repository's folder, e.g. /media/me/USB/borg")
                        Accessible.name: qsTr("Repository folder")
                    }
                    RadioButton {
                        id: onServer
                        ButtonGroup.group: whereGroup
                        text: qsTr("On a backup server over SSH")
                        Accessible.name: qsTr("The repository is on a server")
                        Accessible.onPressAction: checked = true
                    }
                    SshServerForm {
                        id: sshForm
                        visible: onServer.checked
                        Layout.fillWidth: true
                        wizard: sshHelper
                    }
                    Label { text: qsTr("Its key") }
                    RadioButton {
                        id: withKeyFile
                        ButtonGroup.group: keyGroup
                        checked: true
                        text: qsTr("The key file I saved (e.g. local.key on a USB stick)")
                        Accessible.name: qsTr("Use a key file")
                        Accessible.onPressAction: checked = true
                    }
                    RowLayout {
                        visible: withKeyFile.checked
                        Layout.fillWidth: true
                        TextField {
                            id: keyFile
                            Layout.fillWidth: true
                            placeholderText: qsTr("Key file")
                            Accessible.name: qsTr("Key file")
                            // On to the passphrase (the file picker is a click away).
                            KeyNavigation.tab: passphrase
                        }
                        Button {
                            text: qsTr("Choose…")
                            Accessible.name: qsTr("Choose the key file")
                            Accessible.onPressAction: clicked()
                            onClicked: keyPicker.open()
                        }
                    }
                    RadioButton {
                        id: withPaper
                        ButtonGroup.group: keyGroup
                        text: qsTr("The paper key I printed: type its lines")
                        Accessible.name: qsTr("Type the paper key")
                        Accessible.onPressAction: checked = true
                    }
                    TextArea {
                        id: paperKey
                        visible: withPaper.checked
                        Layout.fillWidth: true
                        Layout.preferredHeight: 120
                        font.family: "monospace"
                        placeholderText: qsTr("id: 20 / 3fd9f5 be39e2 b9e59a / … - 2c\n 1: 86a961 6c676f 726974 … - 13\n …")
                        Accessible.name: qsTr("Paper key lines")
                    }
                    RadioButton {
                        id: inRepository
                        ButtonGroup.group: keyGroup
                        text: qsTr("None: the key is in the repository (repokey), the passphrase is enough")
                        Accessible.name: qsTr("The key is in the repository")
                        Accessible.onPressAction: checked = true
                    }
                    Label { text: qsTr("Passphrase") }
                    TextField {
                        id: passphrase
                        Layout.fillWidth: true
                        echoMode: TextInput.Password
                        Accessible.name: qsTr("Passphrase of the backup")
                    }
                    Button {
                        text: qsTr("Open the backup")
                        enabled: !recovery.busy && page.location() !== "" && passphrase.text !== ""
                                 && (!withKeyFile.checked || keyFile.text !== "")
                                 && (!withPaper.checked || paperKey.text !== "")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: recovery.open(page.location(),
                                                 withKeyFile.checked ? keyFile.text : "",
                                                 withPaper.checked ? paperKey.text : "",
                                                 passphrase.text)
                    }
                    Label {
                        visible: recovery.opened
                        text: qsTr("Opened: %1 archives, the newest from %2.").arg(recovery.archives.length).arg(recovery.archives.length > 0 ? recovery.archives[0].time : "")
                        color: "#2e7d32"
                        Accessible.name: text
                    }
                }
            }

            // 2. The archive, newest first, and what of it
            ColumnLayout {
                spacing: 8
                Label { text: qsTr("Archives, newest first:") }
                ListView {
                    id: archiveView
                    Layout.fillWidth: true
                    Layout.preferredHeight: 160
                    clip: true
                    model: recovery.archives
                    currentIndex: 0
                    delegate: ItemDelegate {
                        required property int index
                        required property var modelData
                        width: ListView.view.width
                        highlighted: ListView.isCurrentItem
                        text: modelData.name + "  ·  " + modelData.time
                        Accessible.name: modelData.name
                        Accessible.onPressAction: clicked()
                        onClicked: {
                            archiveView.currentIndex = index
                            recovery.chooseArchive(modelData.name)
                        }
                    }
                }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: recovery.folders.length > 0
                          ? qsTr("Restore everything, or only the folders you tick:")
                          : qsTr("Looking at what the archive holds…")
                }
                ScrollView {
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    clip: true
                    ColumnLayout {
                        Repeater {
                            id: folderRepeater
                            model: recovery.folders
                            CheckBox {
                                required property var modelData
                                text: modelData.path + "  (" + modelData.sizeText + ")"
                                Accessible.name: modelData.path
                                Accessible.onPressAction: toggle()
                            }
                        }
                    }
                }
            }

            // 3. Where, the restore with its progress, the checked summary, and what next
            ScrollView {
                clip: true
                contentWidth: availableWidth
                ColumnLayout {
                    width: parent.width
                    spacing: 8
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: qsTr("The archive comes back as it was laid out (home/you/…) below this folder. Nothing there is overwritten: choose an empty folder, then move what you need.")
                    }
                    RowLayout {
                        Layout.fillWidth: true
                        TextField {
                            id: target
                            Layout.fillWidth: true
                            text: recovery.defaultTarget
                            Accessible.name: qsTr("Restore into")
                        }
                        Button {
                            text: qsTr("Choose…")
                            Accessible.name: qsTr("Choose where to restore")
                            Accessible.onPressAction: clicked()
                            onClicked: targetPicker.open()
                        }
                    }
                    RowLayout {
                        Button {
                            text: page.chosenFolders().length > 0 ? qsTr("Restore the chosen folders") : qsTr("Restore everything")
                            enabled: !recovery.busy && target.text !== "" && archiveView.currentIndex >= 0
                            Accessible.name: qsTr("Restore")
                            Accessible.onPressAction: clicked()
                            onClicked: recovery.restore(recovery.archives[archiveView.currentIndex].name, page.chosenFolders(), target.text)
                        }
                        Button {
                            text: qsTr("Stop")
                            visible: recovery.busy
                            Accessible.name: qsTr("Stop the restore")
                            Accessible.onPressAction: clicked()
                            onClicked: recovery.cancel()
                        }
                    }
                    ProgressBar {
                        Layout.fillWidth: true
                        visible: recovery.busy || recovery.restored
                        value: recovery.progress
                    }
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: recovery.summaryText
                        Accessible.name: text
                    }
                    Button {
                        visible: recovery.restored && recovery.adoptedConfig === ""
                        enabled: !recovery.busy
                        text: qsTr("Go on backing up into this repository")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: recovery.adopt()
                    }
                    Label {
                        visible: recovery.adoptedConfig !== ""
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: qsTr("Wrote %1: this computer backs up into the same repository.").arg(recovery.adoptedConfig)
                        color: "#2e7d32"
                        Accessible.name: text
                    }
                }
            }
        }

        Label {
            visible: recovery.errorText !== "" || sshHelper.errorText !== ""
            Layout.fillWidth: true
            wrapMode: Text.WordWrap
            color: "#c62828"
            text: recovery.errorText !== "" ? recovery.errorText : sshHelper.errorText
            Accessible.name: text
        }

        RowLayout {
            Layout.fillWidth: true
            Button {
                text: recovery.adoptedConfig !== "" ? qsTr("Done") : qsTr("Cancel")
                enabled: !recovery.busy
                Accessible.name: recovery.adoptedConfig !== "" ? qsTr("Done") : qsTr("Cancel the restore")
                Accessible.onPressAction: clicked()
                onClicked: recovery.adoptedConfig !== "" ? page.adopted(recovery.adoptedConfig) : page.cancelled()
            }
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Back")
                enabled: page.step > 0 && !recovery.busy
                Accessible.name: qsTr("Back")
                Accessible.onPressAction: clicked()
                onClicked: page.step -= 1
            }
            Button {
                visible: page.step < page.titles.length - 1
                text: qsTr("Next")
                enabled: recovery.opened && !recovery.busy
                Accessible.name: qsTr("Next")
                Accessible.onPressAction: clicked()
                onClicked: {
                    page.step += 1
                    if (page.step === 1 && recovery.folders.length === 0 && recovery.archives.length > 0)
                        recovery.chooseArchive(recovery.archives[archiveView.currentIndex].name)
                }
            }
        }
    }
}
