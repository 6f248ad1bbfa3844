import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A list option (source directories, error commands): remove entries, add new ones.
ColumnLayout {
    id: editorList
    required property var editor
    required property string key
    property var items: []
    property string addLabel: qsTr("Add")
    property string placeholder: ""
    property string error: ""
    readonly property string readOnlyReason: editor.loaded ? editor.readOnlyReason(key) : ""
    spacing: 4

    Repeater {
        model: editorList.items
        delegate: RowLayout {
            required property string modelData
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                text: modelData
                elide: Text.ElideMiddle
                font.family: "monospace"
            }
            Button {
                text: qsTr("Remove")
                enabled: editorList.readOnlyReason === ""
                Accessible.name: qsTr("Remove %1").arg(modelData)
                Accessible.onPressAction: clicked()
                onClicked: editorList.error = editorList.editor.removeItem(editorList.key, modelData)
            }
        }
    }
    RowLayout {
        Layout.fillWidth: true
        enabled: editorList.readOnlyReason === ""
        TextField {
            id: newItem
            Layout.fillWidth: true
            placeholderText: editorList.placeholder
            Accessible.name: editorList.placeholder
            onAccepted: addButton.clicked()
        }
        Button {
            id: addButton
            text: editorList.addLabel
            Accessible.name: text
            Accessible.onPressAction: clicked()
            onClicked: {
                editorList.error = editorList.editor.addItem(editorList.key, newItem.text)
                if (editorList.error === "")
                    newItem.text = ""
            }
        }
    }
    Label {
        visible: editorList.error !== "" || editorList.readOnlyReason !== ""
        text: editorList.error !== "" ? editorList.error : editorList.readOnlyReason
        color: "#c0392b"
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
    }
}
