import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A new name for one archive; what borg would refuse is said next to the field.
Dialog {
    id: dialog
    property string oldName: ""
    property var housekeeping
    signal confirmed(string oldName, string newName)

    readonly property string problem: newName.text === oldName ? "" : housekeeping.nameProblem(newName.text)

    title: qsTr("Rename “%1”").arg(oldName)
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(520, parent ? parent.width - 40 : 520)
    onOpened: {
        newName.text = oldName
        newName.selectAll()
        newName.forceActiveFocus()
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 6
        Label { text: qsTr("New name") }
        TextField {
            id: newName
            Layout.fillWidth: true
            Accessible.name: qsTr("New archive name")
            onAccepted: if (renameButton.enabled) dialog.accept()
        }
        Label {
            Layout.fillWidth: true
            visible: dialog.problem !== ""
            text: dialog.problem
            color: "#c62828"
            wrapMode: Text.WordWrap
        }
    }

    footer: DialogButtonBox {
        Button {
            id: renameButton
            text: qsTr("Rename")
            enabled: dialog.problem === "" && newName.text !== dialog.oldName
            DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
            Accessible.onPressAction: if (enabled) dialog.accept()
        }
        Button {
            text: qsTr("Cancel")
            DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
            Accessible.onPressAction: clicked()
        }
    }
    onAccepted: confirmed(oldName, newName.text)
}
