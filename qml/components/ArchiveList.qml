import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// The selected repository's archives, newest first, with busy and error states.
Pane {
    id: pane
    property var model
    property string repositoryName: ""
    property string currentArchive: ""
    // Archives ticked for deleting (several at once); none ticked means the current one.
    property var checkedNames: []
    property bool spaceShown: false
    // RepositorySpace of the selected repository (shown under the list when asked).
    property var space
    // ArchiveHousekeeping: what a delete or rename is doing, or why it failed.
    property var housekeeping
    signal measureRequested(bool refresh)
    signal archiveSelected(string name)
    signal deleteRequested(var names)
    signal renameRequested(string name)
    signal checkRequested()
    signal repairRequested()

    function chosenNames() {
        if (checkedNames.length > 0)
            return checkedNames
        return currentArchive !== "" ? [currentArchive] : []
    }
    function toggle(name, on) {
        const rest = checkedNames.filter(n => n !== name)
        checkedNames = on ? rest.concat([name]) : rest
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                text: pane.repositoryName === "" ? qsTr("Archives") : qsTr("Archives in %1").arg(pane.repositoryName)
                font.bold: true
                elide: Text.ElideRight
            }
            BusyIndicator {
                running: pane.model.busy
                visible: running
                implicitWidth: 24
                implicitHeight: 24
                Accessible.name: qsTr("Loading archives")
            }
        }

        // Housekeeping of the selected repository: acts on the ticked archives (or the
        // selected one), each after a confirmation that names them.
        RowLayout {
            Layout.fillWidth: true
            visible: pane.repositoryName !== ""
            spacing: 4
            Button {
                text: pane.checkedNames.length > 1 ? qsTr("Delete %1…").arg(pane.checkedNames.length) : qsTr("Delete…")
                enabled: pane.chosenNames().length > 0
                Accessible.name: qsTr("Delete archives")
                Accessible.onPressAction: if (enabled) clicked()
                onClicked: pane.deleteRequested(pane.chosenNames())
            }
            Button {
                text: qsTr("Rename…")
                enabled: pane.chosenNames().length === 1
                Accessible.name: qsTr("Rename archive")
                Accessible.onPressAction: if (enabled) clicked()
                onClicked: pane.renameRequested(pane.chosenNames()[0])
            }
            Button {
                text: qsTr("Check")
                Accessible.name: qsTr("Check the repository")
                Accessible.onPressAction: clicked()
                onClicked: pane.checkRequested()
            }
            Button {
                text: qsTr("Repair…")
                Accessible.name: qsTr("Repair the repository")
                Accessible.onPressAction: clicked()
                onClicked: pane.repairRequested()
            }
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Space")
                checkable: true
                Accessible.name: qsTr("Show space use")
                Accessible.onPressAction: toggle()
                // Also when toggled through accessibility (toggle() emits no toggled()).
                onCheckedChanged: pane.spaceShown = checked
            }
        }

        Label {
            Layout.fillWidth: true
            visible: text !== ""
            text: pane.housekeeping ? pane.housekeeping.statusText : ""
            wrapMode: Text.WordWrap
            Accessible.name: text
        }
        ErrorBanner {
            Layout.fillWidth: true
            text: pane.housekeeping ? pane.housekeeping.errorText : ""
        }

        ErrorBanner {
            Layout.fillWidth: true
            text: pane.model.errorText
        }

        // A locked wallet or a missing passphrase: type it once for this run (not stored).
        RowLayout {
            Layout.fillWidth: true
            visible: pane.model.errorKind === Failure.WalletUnavailable || pane.model.errorKind === Failure.PassphraseMissing
            // The cursor goes where the next step is typed.
            onVisibleChanged: if (visible) oncePassphrase.forceActiveFocus()
            TextField {
                id: oncePassphrase
                Layout.fillWidth: true
                echoMode: TextInput.Password
                placeholderText: qsTr("Passphrase for this time only")
                Accessible.name: placeholderText
                onAccepted: useOnce.clicked()
            }
            Button {
                id: useOnce
                text: qsTr("Use for this run")
                enabled: oncePassphrase.text !== ""
                Accessible.onPressAction: clicked()
                onClicked: {
                    pane.model.retryWithPassphrase(oncePassphrase.text)
                    oncePassphrase.text = ""
                }
            }
        }

        Label {
            Layout.fillWidth: true
            visible: pane.model.busy
            text: pane.model.statusText !== "" ? pane.model.statusText : qsTr("Asking borg for the archive list…")
            opacity: 0.7
            elide: Text.ElideRight
        }

        ListView {
            id: list
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: pane.model
            currentIndex: -1
            Accessible.name: qsTr("Archives")
            ScrollBar.vertical: ScrollBar {}
            keyNavigationEnabled: true
            onCurrentIndexChanged: {
                const name = pane.model.nameAt(currentIndex)
                if (name !== "" && name !== pane.currentArchive) {
                    pane.currentArchive = name
                    pane.archiveSelected(name)
                }
            }
            Connections {
                target: pane.model
                function onModelReset() {
                    list.currentIndex = -1
                    pane.checkedNames = []
                }
            }

            delegate: ItemDelegate {
                required property int index
                required property string name
                required property string time
                required property string sizes
                width: ListView.view.width
                highlighted: ListView.isCurrentItem
                text: name
                Accessible.name: name
                Accessible.onPressAction: clicked()
                contentItem: RowLayout {
                    CheckBox {
                        checked: pane.checkedNames.indexOf(name) >= 0
                        Accessible.name: qsTr("Choose %1").arg(name)
                        Accessible.onToggleAction: checked = !checked
                        Accessible.onPressAction: checked = !checked
                        onCheckedChanged: pane.toggle(name, checked)
                    }
                    Label {
                        text: time
                        font.family: "monospace"
                        opacity: 0.75
                    }
                    Label {
                        Layout.fillWidth: true
                        text: name
                        elide: Text.ElideRight
                    }
                    Label {
                        visible: sizes !== ""
                        text: sizes
                        opacity: 0.7
                        Accessible.name: qsTr("Archive size: %1").arg(sizes)
                    }
                }
                onClicked: {
                    list.forceActiveFocus()
                    list.currentIndex = index
                }
            }

            Label {
                anchors.centerIn: parent
                visible: list.count === 0 && !pane.model.busy && pane.model.errorText === "" && pane.repositoryName !== ""
                text: qsTr("This repository has no archives yet.")
                opacity: 0.7
            }
        }

        ArchiveSpaceChart {
            Layout.fillWidth: true
            visible: pane.spaceShown
            space: pane.space
            onMeasureRequested: refresh => pane.measureRequested(refresh)
        }
    }
}
