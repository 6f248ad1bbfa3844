import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// The selected entry, read from the archive as the selection moves: the start of a text
// file, an image, a link's target, a folder's size; "Open" hands a read-only copy to the
// user's application.
Pane {
    id: pane
    property EntryPreview preview
    signal openRequested()
    signal versionsRequested()

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        Label {
            Layout.fillWidth: true
            text: pane.preview.title === "" ? qsTr("Select a file to preview it") : pane.preview.title
            font.bold: true
            wrapMode: Text.WrapAnywhere
            Accessible.name: qsTr("Preview of %1").arg(text)
        }
        Label {
            Layout.fillWidth: true
            text: pane.preview.info
            opacity: 0.7
            wrapMode: Text.Wrap
        }
        RowLayout {
            visible: pane.preview.title !== ""
            Button {
                text: qsTr("Open")
                icon.name: "document-open"
                enabled: pane.preview.kind === EntryPreview.Text || pane.preview.kind === EntryPreview.Image || pane.preview.kind === EntryPreview.Binary
                Accessible.name: qsTr("Open with the default application")
                Accessible.onPressAction: clicked()
                onClicked: pane.openRequested()
            }
            Button {
                text: qsTr("Versions")
                icon.name: "view-history"
                Accessible.name: qsTr("Versions of the selection")
                Accessible.onPressAction: clicked()
                onClicked: pane.versionsRequested()
            }
        }
        ScrollView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: pane.preview.kind === EntryPreview.Text || pane.preview.kind === EntryPreview.Link || pane.preview.kind === EntryPreview.Failed
            TextArea {
                readOnly: true
                text: pane.preview.text
                font.family: pane.preview.kind === EntryPreview.Text ? "monospace" : ""
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                color: pane.preview.kind === EntryPreview.Failed ? "#c62828" : palette.text
                Accessible.name: qsTr("Preview text")
            }
        }
        Image {
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: pane.preview.kind === EntryPreview.Image
            source: pane.preview.image
            fillMode: Image.PreserveAspectFit
            asynchronous: true
            Accessible.name: qsTr("Preview image")
        }
        Label {
            visible: pane.preview.kind === EntryPreview.Binary
            text: qsTr("No preview for this kind of file.")
            opacity: 0.7
        }
        Item {
            Layout.fillHeight: true
            visible: !(pane.preview.kind === EntryPreview.Text || pane.preview.kind === EntryPreview.Image || pane.preview.kind === EntryPreview.Link || pane.preview.kind === EntryPreview.Failed)
        }
    }
}
