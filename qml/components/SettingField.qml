import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// One scalar option: checked while typing, written to the document when editing ends.
ColumnLayout {
    id: field
    required property var editor
    required property string key
    property string label: key
    property string value: ""
    property string placeholder: ""
    property string error: ""
    // What is typed now (saved or not), for previews.
    readonly property string typed: input.text
    readonly property string readOnlyReason: editor.loaded ? editor.readOnlyReason(key) : ""
    spacing: 2

    RowLayout {
        Layout.fillWidth: true
        Label {
            text: field.label
            Layout.preferredWidth: 190
        }
        TextField {
            id: input
            Layout.fillWidth: true
            text: field.value
            placeholderText: field.placeholder
            enabled: field.readOnlyReason === ""
            Accessible.name: field.label
            onTextEdited: field.error = field.editor.check(field.key, text)
            onEditingFinished: {
                if (text === field.value)
                    return
                field.error = field.editor.check(field.key, text)
                if (field.error === "")
                    field.error = field.editor.setValue(field.key, text)
            }
        }
    }
    Label {
        Layout.leftMargin: 190
        visible: field.error !== "" || field.readOnlyReason !== ""
        text: field.error !== "" ? field.error : field.readOnlyReason
        color: field.error !== "" ? "#c0392b" : palette.placeholderText
        font.pixelSize: 11
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
        Accessible.name: text
    }
}
