import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// The first run: what to back up, where, the passphrase, the repositories created with their
// keys saved and checked, and when. Every step can be gone back to; what was typed stays.
Pane {
    id: page
    signal finished(string configPath)
    signal cancelled()
    // "Restore from an existing backup" (a new or reinstalled computer).
    signal recoverRequested()
    // Shown over existing configs (More → Set up another backup): it can be left.
    property bool cancellable: false
    property int step: 0
    readonly property var titles: [qsTr("What to back up"), qsTr("Where"), qsTr("Encryption"),
        qsTr("Save the key"), qsTr("When")]

    SetupWizard {
        id: wizard
        Component.onCompleted: generatePassphrase()
    }
    onVisibleChanged: {
        if (visible && wizard.created) { step = 0; writtenDown.checked = false; wizard.reset() }
        if (visible) totalsTimer.restart()
    }

    function sshLocation() { return useSsh.checked ? sshForm.location() : "" }
    // `label=key file` of each existing repository whose key is to be imported.
    function keysToImport() {
        if (existingKey.text === "") return []
        var labels = []
        if (useLocal.checked && wizard.repositoryAt(localField.text)) labels.push("local=" + existingKey.text)
        if (useSsh.checked && wizard.sshExisting) labels.push("nas=" + existingKey.text)
        return labels
    }
    function passphraseReady() {
        return ownPassphrase.checked
            ? (typed1.text.length >= 8 && typed1.text === typed2.text)
            : (wizard.passphrase !== "" && writtenDown.checked)
    }
    function canGoOn() {
        switch (step) {
        case 0: return sourceField.text !== ""
        case 1: return (useLocal.checked && localField.text !== "") || (useSsh.checked && wizard.sshOk)
        case 2: return passphraseReady()
        case 3: return wizard.created
        default: return true
        }
    }

    FileDialog {
        id: existingKeyPicker
        title: qsTr("The key file of the existing repository")
        onAccepted: existingKey.text = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
    }

    FolderDialog {
        id: keyFolderPicker
        title: qsTr("Where to save the keys")
        onAccepted: keyFolder.text = decodeURIComponent(selectedFolder.toString().replace(/^file:\/\//, ""))
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 10

        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                text: qsTr("Set up backups — step %1 of %2: %3").arg(page.step + 1).arg(page.titles.length).arg(page.titles[page.step])
                font.pixelSize: 18
                Accessible.name: text
            }
            Button {
                visible: page.step === 0
                text: qsTr("Restore from an existing backup…")
                Accessible.name: qsTr("Restore from an existing backup")
                Accessible.onPressAction: clicked()
                onClicked: page.recoverRequested()
            }
        }

        StackLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            currentIndex: page.step

            // 1. What to back up
            ColumnLayout {
                spacing: 8
                Label { text: qsTr("Folder to back up") }
                TextField {
                    id: sourceField
                    Layout.fillWidth: true
                    text: wizard.home
                    Accessible.name: qsTr("Folder to back up")
                }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("Left out, as the guide recommends (change it later on the Excludes tab): caches, build output, Downloads, Music and Videos, the trash, KDE's search index and mail cache, disk images, and every folder holding a .nobackup file.")
                    opacity: 0.8
                }
                // The live totals, by the exclude editor's preview (borg's own rules).
                ExcludePreview { id: totals }
                Timer {
                    id: totalsTimer
                    interval: 400
                    // Only while the wizard shows: a home is walked for the totals.
                    onTriggered: if (page.visible && sourceField.text !== "") totals.refresh(wizard.configPath, wizard.draftConfig(sourceField.text))
                }
                Connections {
                    target: sourceField
                    function onTextChanged() { totalsTimer.restart() }
                }
                Component.onCompleted: totalsTimer.restart()
                RowLayout {
                    BusyIndicator { running: totals.busy; visible: running; implicitWidth: 22; implicitHeight: 22 }
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: totals.errorText !== "" ? totals.errorText
                            : totals.busy ? qsTr("Looking at %1 paths…").arg(totals.scanned) : totals.totalsText
                        Accessible.name: text
                    }
                }
            }

            // 2. Where
            ColumnLayout {
                spacing: 8
                CheckBox {
                    id: useLocal
                    checked: true
                    text: qsTr("A folder or a removable disk")
                    Accessible.name: text
                    Accessible.onPressAction: toggle()
                }
                TextField {
                    id: localField
                    Layout.fillWidth: true
                    enabled: useLocal.checked
                    text: wizard.defaultLocal
                    Accessible.name: qsTr("Backup folder")
                }
                CheckBox {
                    id: useSsh
                    text: qsTr("A backup server over SSH")
                    Accessible.name: text
                    Accessible.onPressAction: toggle()
                }
                SshServerForm {
                    id: sshForm
                    visible: useSsh.checked
                    Layout.fillWidth: true
                    wizard: wizard
                }
                // A repository already at the folder (a disk from before, a new computer): used
                // instead of a new one; its key file is imported if this computer lacks it.
                Label {
                    visible: !wizard.created && ((useLocal.checked && wizard.repositoryAt(localField.text)) || (useSsh.checked && wizard.sshExisting))
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("A repository is already there: Kastell backs up into it if your passphrase opens it. If it uses a key file that this computer does not have yet, choose the key you saved:")
                    Accessible.name: text
                }
                RowLayout {
                    visible: !wizard.created && ((useLocal.checked && wizard.repositoryAt(localField.text)) || (useSsh.checked && wizard.sshExisting))
                    Layout.fillWidth: true
                    TextField {
                        id: existingKey
                        Layout.fillWidth: true
                        placeholderText: qsTr("Its key file (only for a key-file repository this computer lacks)")
                        Accessible.name: qsTr("Key file of the existing repository")
                    }
                    Button {
                        text: qsTr("Choose…")
                        Accessible.name: qsTr("Choose the key file of the existing repository")
                        Accessible.onPressAction: clicked()
                        onClicked: existingKeyPicker.open()
                    }
                }
            }

            // 3. Encryption
            ColumnLayout {
                spacing: 8
                // Two choices on one page: each its own group.
                ButtonGroup { id: modeGroup }
                ButtonGroup { id: passphraseGroup }
                RadioButton {
                    id: keyfileMode
                    ButtonGroup.group: modeGroup
                    checked: true
                    text: qsTr("Key file (recommended): the key stays on this computer and in the copy you save next; the repository alone cannot be opened, even with the passphrase.")
                    Accessible.name: qsTr("Key file encryption")
                }
                RadioButton {
                    ButtonGroup.group: modeGroup
                    text: qsTr("Key in the repository: the passphrase alone opens it.")
                    Accessible.name: qsTr("Repository key encryption")
                }
                RadioButton {
                    id: generatedPassphrase
                    ButtonGroup.group: passphraseGroup
                    checked: true
                    text: qsTr("Use this passphrase:")
                    Accessible.name: qsTr("Use the generated passphrase")
                }
                Label {
                    visible: generatedPassphrase.checked
                    text: wizard.passphrase
                    font.pixelSize: 20
                    font.family: "monospace"
                    Accessible.name: qsTr("Generated passphrase")
                }
                Label {
                    visible: generatedPassphrase.checked
                    text: wizard.entropyText
                    opacity: 0.8
                }
                RowLayout {
                    visible: generatedPassphrase.checked
                    CheckBox {
                        id: writtenDown
                        text: qsTr("I have written it down (Kastell keeps it in the wallet, and shows it only now)")
                        Accessible.name: qsTr("I have written the passphrase down")
                        Accessible.onPressAction: toggle()
                    }
                    Button {
                        text: qsTr("Another one")
                        Accessible.name: qsTr("Another passphrase")
                        Accessible.onPressAction: clicked()
                        onClicked: { writtenDown.checked = false; wizard.generatePassphrase() }
                    }
                }
                RadioButton {
                    id: ownPassphrase
                    ButtonGroup.group: passphraseGroup
                    text: qsTr("Type my own:")
                    Accessible.name: qsTr("Type my own passphrase")
                    Accessible.onPressAction: checked = true
                    // The cursor goes to the first field (AT-SPI names no password field).
                    onCheckedChanged: if (checked) typed1.forceActiveFocus()
                }
                TextField {
                    id: typed1
                    visible: ownPassphrase.checked
                    echoMode: TextInput.Password
                    placeholderText: qsTr("Passphrase (at least 8 characters)")
                    Accessible.name: qsTr("Passphrase")
                    Layout.fillWidth: true
                }
                TextField {
                    id: typed2
                    visible: ownPassphrase.checked
                    echoMode: TextInput.Password
                    placeholderText: qsTr("The same again")
                    Accessible.name: qsTr("Passphrase again")
                    Layout.fillWidth: true
                }
                Label {
                    visible: ownPassphrase.checked && typed2.text !== "" && typed1.text !== typed2.text
                    text: qsTr("The two passphrases differ.")
                    color: "#c62828"
                    Accessible.name: text
                }
            }

            // 4. Save the key (and create the repositories)
            ColumnLayout {
                spacing: 8
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("Without the key and the passphrase nobody, you included, can open the backups. Kastell saves a copy of every repository's key to a folder you choose — a USB stick, or anywhere apart from this computer — and checks that it opens the repository.")
                }
                RowLayout {
                    Layout.fillWidth: true
                    TextField {
                        id: keyFolder
                        Layout.fillWidth: true
                        placeholderText: qsTr("Folder for the keys")
                        Accessible.name: qsTr("Folder for the keys")
                    }
                    Button {
                        text: qsTr("Choose…")
                        Accessible.name: qsTr("Choose the folder for the keys")
                        Accessible.onPressAction: clicked()
                        onClicked: keyFolderPicker.open()
                    }
                }
                CheckBox {
                    id: skipKeys
                    text: qsTr("Do not save the keys: I understand I can lose everything")
                    Accessible.name: text
                    Accessible.onPressAction: toggle()
                }
                Button {
                    text: qsTr("Create the repositories")
                    enabled: !wizard.busy && !wizard.created && (keyFolder.text !== "" || skipKeys.checked)
                    Accessible.name: text
                    Accessible.onPressAction: clicked()
                    onClicked: wizard.create(page.keysToImport(), [sourceField.text],
                                             [useLocal.checked ? "local=" + localField.text : "",
                                              useSsh.checked ? "nas=" + page.sshLocation() : ""],
                                             keyfileMode.checked,
                                             ownPassphrase.checked ? typed1.text : wizard.passphrase,
                                             keyFolder.text)
                }
                BusyIndicator { running: wizard.busy; visible: running }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: wizard.logText
                    Accessible.name: text
                }
                // The paper key: borg's page with the key as text and as a QR code, to print
                // and keep apart from the computer.
                Button {
                    visible: wizard.printPages.length > 0
                    text: qsTr("Print the paper key…")
                    Accessible.name: text
                    Accessible.onPressAction: clicked()
                    onClicked: {
                        for (var i = 0; i < wizard.printPages.length; i++)
                            Qt.openUrlExternally("file://" + wizard.printPages[i])
                    }
                }
            }

            // 5. When
            ColumnLayout {
                spacing: 8
                CheckBox {
                    id: daily
                    checked: true
                    text: qsTr("Back up every day at 12:00, on mains power (a missed day is caught up)")
                    Accessible.name: text
                    Accessible.onPressAction: toggle()
                }
                CheckBox {
                    id: trayAtLogin
                    checked: true
                    text: qsTr("Show the backup status in the tray at login")
                    Accessible.name: text
                    Accessible.onPressAction: toggle()
                }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("“Finish” writes %1 and starts the first backup.").arg(wizard.configPath)
                    opacity: 0.8
                }
            }
        }

        Label {
            visible: wizard.errorText !== ""
            Layout.fillWidth: true
            wrapMode: Text.WordWrap
            color: "#c62828"
            text: wizard.errorText
            Accessible.name: text
        }

        RowLayout {
            Layout.fillWidth: true
            Button {
                visible: page.cancellable
                text: qsTr("Cancel")
                enabled: !wizard.busy
                Accessible.name: qsTr("Cancel the setup")
                Accessible.onPressAction: clicked()
                onClicked: page.cancelled()
            }
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Back")
                enabled: page.step > 0 && !wizard.busy
                Accessible.name: qsTr("Back")
                Accessible.onPressAction: clicked()
                onClicked: page.step -= 1
            }
            Button {
                visible: page.step < page.titles.length - 1
                text: qsTr("Next")
                enabled: page.canGoOn() && !wizard.busy
                Accessible.name: qsTr("Next")
                Accessible.onPressAction: clicked()
                onClicked: page.step += 1
            }
            Button {
                visible: page.step === page.titles.length - 1
                text: qsTr("Finish")
                enabled: !wizard.busy
                Accessible.name: qsTr("Finish")
                Accessible.onPressAction: clicked()
                onClicked: {
                    if (daily.checked)
                        wizard.scheduleDaily(trayAtLogin.checked)
                    page.finished(wizard.configPath)
                }
            }
        }
    }
}
