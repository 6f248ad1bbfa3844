import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// The settings of one borgmatic config, edited in place: comments and layout of the file stay.
Page {
    id: page
    // Fixed hints: the content's size follows the window, not the other way round.
    implicitWidth: 800
    implicitHeight: 600
    property string configPath: ""
    // The repository the retention preview reads (the one selected in the window).
    property string repository: ""
    // "Prune now" asked (the window runs it, with its progress and history).
    signal pruneRequested()
    onConfigPathChanged: if (configPath !== "") configEditor.load(configPath)

    ConfigEditor { id: configEditor }
    RetentionPreview { id: retentionPreview }

    // The rules as typed, saved or not: `keep_daily=7`, ….
    function retentionRules() {
        var rules = []
        for (var i = 0; i < retentionFields.count; i++) {
            var field = retentionFields.itemAt(i)
            if (field) rules.push(field.key + "=" + field.typed)
        }
        return rules
    }
    function loadPreview() {
        if (visible && configPath !== "" && configEditor.loaded)
            retentionPreview.load(configPath, repository, retentionRules())
    }
    onVisibleChanged: loadPreview()
    onRepositoryChanged: loadPreview()
    Connections {
        target: configEditor
        function onLoadedChanged() { page.loadPreview() }
    }
    Timer {
        id: retentionTimer
        interval: 120
        onTriggered: retentionPreview.decide(page.retentionRules())
    }

    header: ColumnLayout {
        spacing: 0
        ErrorBanner {
            Layout.fillWidth: true
            Layout.margins: 8
            text: configEditor.errorText
        }
        Rectangle {
            Layout.fillWidth: true
            visible: configEditor.externalChange
            implicitHeight: externalRow.implicitHeight + 16
            color: "#fff4d6"
            RowLayout {
                id: externalRow
                anchors.fill: parent
                anchors.margins: 8
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("The file was changed outside Kastell while you have unsaved changes.")
                }
                Button {
                    text: qsTr("Reload (drop mine)")
                    Accessible.onPressAction: clicked()
                    onClicked: configEditor.reloadFromDisk()
                }
                Button {
                    text: qsTr("Keep mine")
                    Accessible.onPressAction: clicked()
                    onClicked: configEditor.keepMine()
                }
            }
        }
    }

    ScrollView {
        id: scroll
        anchors.fill: parent
        contentWidth: availableWidth
        enabled: configEditor.loaded && !configEditor.busy

        ColumnLayout {
            width: scroll.availableWidth - 24
            x: 12
            spacing: 12

            Label {
                text: configEditor.configPath
                font.bold: true
                elide: Text.ElideMiddle
                Layout.fillWidth: true
                Layout.topMargin: 8
            }

            GroupBox {
                title: qsTr("Passphrase")
                Layout.fillWidth: true
                RowLayout {
                    anchors.fill: parent
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        text: configEditor.passphraseState === "plaintext"
                              ? qsTr("The passphrase is written in this file in plain text.")
                              : configEditor.passphraseState === "wallet"
                                ? qsTr("The passphrase is kept in the wallet; borgmatic asks Kastell for it.")
                                : configEditor.passphraseState === "passcommand"
                                  ? qsTr("borgmatic gets the passphrase from this config's own command.")
                                  : qsTr("No passphrase is configured.")
                    }
                    Button {
                        visible: configEditor.passphraseState === "plaintext"
                        text: qsTr("Keep the passphrase in KWallet")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: configEditor.movePassphraseToWallet()
                    }
                    Button {
                        visible: configEditor.passphraseState === "wallet"
                        text: qsTr("Write it back into the file")
                        Accessible.onPressAction: clicked()
                        onClicked: configEditor.movePassphraseToFile()
                    }
                    Button {
                        visible: configEditor.passphraseState === "plaintext" || configEditor.passphraseState === "wallet"
                        text: qsTr("Change passphrase…")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: changeForm.visible = !changeForm.visible
                    }
                }
            }

            // Inline rather than a popup: the new passphrase twice, then every repository.
            ColumnLayout {
                id: changeForm
                visible: false
                Layout.fillWidth: true
                onVisibleChanged: { newPassphrase.text = ""; samePassphrase.text = "" }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.WordWrap
                    text: qsTr("Every repository of this config gets the new passphrase (borg key change-passphrase); all must be reachable. Then it replaces the old one where that was kept.")
                }
                RowLayout {
                    Layout.fillWidth: true
                    TextField {
                        id: newPassphrase
                        Layout.fillWidth: true
                        echoMode: TextInput.Password
                        placeholderText: qsTr("New passphrase")
                        Accessible.name: placeholderText
                    }
                    TextField {
                        id: samePassphrase
                        Layout.fillWidth: true
                        echoMode: TextInput.Password
                        placeholderText: qsTr("The same again")
                        Accessible.name: placeholderText
                    }
                    Button {
                        text: qsTr("Apply")
                        Accessible.name: qsTr("Apply the new passphrase")
                        enabled: newPassphrase.text.length >= 8 && newPassphrase.text === samePassphrase.text
                        Accessible.onPressAction: clicked()
                        onClicked: {
                            configEditor.changePassphrase(newPassphrase.text)
                            changeForm.visible = false
                        }
                    }
                }
                Label {
                    visible: samePassphrase.text !== "" && newPassphrase.text !== samePassphrase.text
                    text: qsTr("The two passphrases differ.")
                    color: "#c0392b"
                }
            }

            GroupBox {
                title: qsTr("What to back up")
                Layout.fillWidth: true
                StringListEditor {
                    anchors.fill: parent
                    editor: configEditor
                    key: "source_directories"
                    items: configEditor.sourceDirectories
                    placeholder: qsTr("A folder to back up, e.g. ~/")
                    addLabel: qsTr("Add folder")
                }
            }

            GroupBox {
                title: qsTr("Repositories")
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    Repeater {
                        model: configEditor.repositoryPaths.length
                        delegate: RowLayout {
                            required property int index
                            Layout.fillWidth: true
                            TextField {
                                id: labelField
                                Layout.preferredWidth: 150
                                text: configEditor.repositoryLabels[index]
                                placeholderText: qsTr("label")
                                Accessible.name: qsTr("Label of repository %1").arg(index + 1)
                                onEditingFinished: if (text !== configEditor.repositoryLabels[index]) repoError.text = configEditor.setRepository(index, text, pathField.text)
                            }
                            TextField {
                                id: pathField
                                Layout.fillWidth: true
                                text: configEditor.repositoryPaths[index]
                                Accessible.name: qsTr("Path of repository %1").arg(index + 1)
                                onEditingFinished: if (text !== configEditor.repositoryPaths[index]) repoError.text = configEditor.setRepository(index, labelField.text, text)
                            }
                            Button {
                                text: qsTr("Remove")
                                Accessible.name: qsTr("Remove repository %1").arg(labelField.text)
                                Accessible.onPressAction: clicked()
                                onClicked: repoError.text = configEditor.removeRepository(index)
                            }
                        }
                    }
                    RowLayout {
                        Layout.fillWidth: true
                        TextField { id: newLabel; Layout.preferredWidth: 150; placeholderText: qsTr("label"); Accessible.name: qsTr("New repository label") }
                        TextField { id: newPath; Layout.fillWidth: true; placeholderText: qsTr("/path or ssh://user@host/./repo"); Accessible.name: qsTr("New repository path") }
                        Button {
                            text: qsTr("Add repository")
                            Accessible.onPressAction: clicked()
                            onClicked: {
                                repoError.text = configEditor.addRepository(newLabel.text, newPath.text)
                                if (repoError.text === "") { newLabel.text = ""; newPath.text = "" }
                            }
                        }
                    }
                    Label { id: repoError; visible: text !== ""; color: "#c0392b"; wrapMode: Text.WordWrap; Layout.fillWidth: true }
                }
            }

            GroupBox {
                title: qsTr("Archives")
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    SettingField { editor: configEditor; key: "compression"; label: qsTr("Compression"); value: configEditor.compression; placeholder: "lz4 (borg's default)"; Layout.fillWidth: true }
                    SettingField { editor: configEditor; key: "archive_name_format"; label: qsTr("Archive name format"); value: configEditor.archiveNameFormat; placeholder: "{hostname}-{now:%Y-%m-%dT%H:%M:%S.%f}"; Layout.fillWidth: true }
                    SettingField { editor: configEditor; key: "ssh_command"; label: qsTr("SSH command"); value: configEditor.sshCommand; placeholder: "ssh"; Layout.fillWidth: true }
                }
            }

            GroupBox {
                title: qsTr("Retention")
                Layout.fillWidth: true
                // The rules on the left, what they keep on the right: the effect shows beside
                // the field being typed in.
                RowLayout {
                    anchors.fill: parent
                    spacing: 16
                    ColumnLayout {
                        Layout.preferredWidth: 360
                        Layout.alignment: Qt.AlignTop
                        Repeater {
                            id: retentionFields
                            model: [
                                ["keep_within", qsTr("Keep everything within")],
                                ["keep_hourly", qsTr("Hourly archives")],
                                ["keep_daily", qsTr("Daily archives")],
                                ["keep_weekly", qsTr("Weekly archives")],
                                ["keep_monthly", qsTr("Monthly archives")],
                                ["keep_yearly", qsTr("Yearly archives")]
                            ]
                            delegate: SettingField {
                                required property var modelData
                                required property int index
                                Layout.fillWidth: true
                                editor: configEditor
                                key: modelData[0]
                                label: modelData[1]
                                value: configEditor.retention[index] || ""
                                onTypedChanged: retentionTimer.restart()
                            }
                        }
                    }
                    ColumnLayout {
                        Layout.fillWidth: true
                        Layout.alignment: Qt.AlignTop
                        RowLayout {
                            Layout.fillWidth: true
                            Label {
                                Layout.fillWidth: true
                                text: qsTr("What these rules keep in “%1”:").arg(page.repository)
                                visible: page.repository !== ""
                                font.bold: true
                            }
                            Button {
                                text: qsTr("Prune now…")
                                enabled: retentionPreview.prunedCount > 0 && !configEditor.modified
                                // Prune applies the saved retention: what is typed is saved first.
                                ToolTip.visible: hovered && configEditor.modified
                                ToolTip.text: qsTr("Save first: prune applies the saved retention.")
                                Accessible.name: qsTr("Prune now")
                                Accessible.onPressAction: clicked()
                                onClicked: pruneConfirm.open()
                            }
                        }
                        RetentionTimeline {
                            Layout.fillWidth: true
                            preview: retentionPreview
                        }
                    }
                }
                Dialog {
                    id: pruneConfirm
                    title: qsTr("Prune “%1”?").arg(page.repository)
                    modal: true
                    anchors.centerIn: Overlay.overlay
                    Label {
                        text: qsTr("%1 archives will be deleted, as listed. Their space is freed when the repository is compacted (after a backup, or Compact now).").arg(retentionPreview.prunedCount)
                        wrapMode: Text.WordWrap
                        width: 420
                    }
                    footer: DialogButtonBox {
                        Button {
                            text: qsTr("Delete %1 archives").arg(retentionPreview.prunedCount)
                            DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
                            Accessible.name: qsTr("Delete the archives")
                            Accessible.onPressAction: clicked()
                        }
                        Button {
                            text: qsTr("Cancel")
                            DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
                        }
                    }
                    onAccepted: page.pruneRequested()
                }
            }

            GroupBox {
                title: qsTr("Consistency checks")
                Layout.fillWidth: true
                ColumnLayout {
                    anchors.fill: parent
                    Repeater {
                        model: configEditor.checkNames.length
                        delegate: RowLayout {
                            required property int index
                            Label { text: configEditor.checkNames[index] || ""; Layout.preferredWidth: 190 }
                            TextField {
                                Layout.fillWidth: true
                                text: configEditor.checkFrequencies[index] || ""
                                placeholderText: qsTr("always")
                                Accessible.name: qsTr("Frequency of the %1 check").arg(configEditor.checkNames[index])
                                onTextEdited: checkError.text = configEditor.check("frequency", text)
                                onEditingFinished: if (text !== configEditor.checkFrequencies[index]) checkError.text = configEditor.setCheckFrequency(configEditor.checkNames[index], text)
                            }
                        }
                    }
                    Label { id: checkError; visible: text !== ""; color: "#c0392b"; wrapMode: Text.WordWrap; Layout.fillWidth: true }
                }
            }

            GroupBox {
                title: qsTr("When a backup fails, run")
                Layout.fillWidth: true
                StringListEditor {
                    anchors.fill: parent
                    editor: configEditor
                    key: "on_error"
                    items: configEditor.onError
                    placeholder: qsTr("A command, e.g. notify-send \"Backup failed\"")
                    addLabel: qsTr("Add command")
                }
            }

            GroupBox {
                title: qsTr("Notifications (Kastell)")
                Layout.fillWidth: true
                AppPreferences { id: appPreferences }
                ColumnLayout {
                    anchors.fill: parent
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.WordWrap
                        opacity: 0.75
                        text: qsTr("A failed backup always notifies. These settings are Kastell's own, not part of the borgmatic config.")
                    }
                    CheckBox {
                        text: qsTr("Also notify when a backup succeeds")
                        checked: appPreferences.notifyOnSuccess
                        Accessible.name: text
                        Accessible.onPressAction: toggled()
                        onToggled: {
                            appPreferences.notifyOnSuccess = checked
                            appPreferences.save()
                        }
                    }
                    RowLayout {
                        Label { text: qsTr("Warn when the last successful backup is older than") }
                        SpinBox {
                            from: 1
                            to: 60
                            value: appPreferences.staleAfterDays
                            Accessible.name: qsTr("Days without a backup before a warning")
                            onValueModified: {
                                appPreferences.staleAfterDays = value
                                appPreferences.save()
                            }
                        }
                        Label { text: qsTr("days") }
                    }
                    CheckBox {
                        text: qsTr("Show the backup status in the tray at login")
                        checked: appPreferences.trayAutostart
                        Accessible.name: text
                        Accessible.onPressAction: toggled()
                        onToggled: {
                            appPreferences.trayAutostart = checked
                            appPreferences.applyTrayAutostart()
                        }
                    }
                    Label { visible: text !== ""; text: appPreferences.errorText; color: "#c0392b" }
                }
            }
            Item { implicitHeight: 8 }
        }
    }

    footer: ToolBar {
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 12
            anchors.rightMargin: 8
            Label {
                Layout.fillWidth: true
                elide: Text.ElideRight
                text: configEditor.modified ? qsTr("● Unsaved changes") : configEditor.statusText
                font.bold: configEditor.modified
                Accessible.name: text
            }
            BusyIndicator { running: configEditor.busy; visible: running; implicitWidth: 24; implicitHeight: 24 }
            Button {
                text: qsTr("Revert")
                enabled: configEditor.modified && !configEditor.busy
                Accessible.onPressAction: clicked()
                onClicked: configEditor.revert()
            }
            Button {
                text: qsTr("Save")
                highlighted: true
                enabled: configEditor.modified && !configEditor.busy
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: configEditor.save()
            }
        }
    }
}
