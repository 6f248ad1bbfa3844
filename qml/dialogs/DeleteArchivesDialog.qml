import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Asks before archives are deleted, naming every one (there is no undo).
Dialog {
    id: dialog
    property var names: []
    property string repository: ""
    signal confirmed(var names)

    title: names.length === 1 ? qsTr("Delete “%1”?").arg(names[0]) : qsTr("Delete %1 archives?").arg(names.length)
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(520, parent ? parent.width - 40 : 520)

    ColumnLayout {
        anchors.fill: parent
        spacing: 8
        Label {
            Layout.fillWidth: true
            wrapMode: Text.WordWrap
            text: qsTr("These archives will be deleted from “%1”. This cannot be undone; their space is freed when the repository is compacted (after a backup, or Compact).").arg(dialog.repository)
        }
        Repeater {
            model: dialog.names
            delegate: Label {
                required property string modelData
                Layout.fillWidth: true
                text: "• " + modelData
                font.family: "monospace"
                elide: Text.ElideMiddle
            }
        }
    }

    footer: DialogButtonBox {
        Button {
            text: dialog.names.length === 1 ? qsTr("Delete the archive") : qsTr("Delete %1 archives").arg(dialog.names.length)
            DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
            Accessible.name: qsTr("Delete the archives")
            Accessible.onPressAction: clicked()
        }
        Button {
            text: qsTr("Cancel")
            DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
            Accessible.onPressAction: clicked()
        }
    }
    onAccepted: confirmed(names)
}
