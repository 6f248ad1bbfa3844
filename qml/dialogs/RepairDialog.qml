import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Repair is never run without this: what it does, what it may cost, what to do first.
Dialog {
    id: dialog
    property string repository: ""
    signal confirmed()

    title: qsTr("Repair “%1”?").arg(repository)
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(560, parent ? parent.width - 40 : 560)

    Label {
        width: dialog.availableWidth
        wrapMode: Text.WordWrap
        text: qsTr("Repair (borg check --repair) rewrites the repository so it can be used again. What cannot be read is dropped: files whose data was damaged are kept with the damaged parts replaced by zeros, and archives whose own records were damaged are deleted. If you can, first back up to another repository and keep a copy of this repository's folder as it is now.")
    }

    footer: DialogButtonBox {
        Button {
            text: qsTr("Repair, accepting the loss")
            DialogButtonBox.buttonRole: DialogButtonBox.AcceptRole
            Accessible.name: qsTr("Repair the repository")
            Accessible.onPressAction: clicked()
        }
        Button {
            text: qsTr("Cancel")
            DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
            Accessible.onPressAction: clicked()
        }
    }
    onAccepted: confirmed()
}
