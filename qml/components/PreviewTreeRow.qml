import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// One path of the preview tree: indented by depth, left-out entries struck through with the
// rule that left them out, folders with something left out inside marked, and what a pattern
// being typed would match highlighted.
Rectangle {
    id: row
    property var previewModel
    width: ListView.view ? ListView.view.width : 400
    height: 26
    color: model.draftMatch ? "#fff3c4" : (index % 2 ? palette.alternateBase : palette.base)
    Accessible.role: model.hasChildren ? Accessible.Button : Accessible.ListItem
    Accessible.name: model.name + (model.fate === "excluded" ? " " + qsTr("left out by %1").arg(model.reason) : "")
    Accessible.onPressAction: if (model.hasChildren) row.previewModel.toggle(index)

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 6 + model.depth * 18
        anchors.rightMargin: 8
        spacing: 6

        Label {
            text: model.hasChildren ? (model.expanded ? "▾" : "▸") : ""
            Layout.preferredWidth: 12
            MouseArea {
                anchors.fill: parent
                anchors.margins: -6
                enabled: model.hasChildren
                onClicked: row.previewModel.toggle(index)
            }
        }
        Rectangle {
            // A folder is a filled tab, a file an outline.
            width: 12
            height: 10
            radius: 2
            color: model.isDir ? "#5c8fd6" : "transparent"
            border.color: model.isDir ? "#3f6fb3" : "#9e9e9e"
            opacity: model.fate === "excluded" ? 0.4 : 1
        }
        Label {
            Layout.fillWidth: true
            elide: Text.ElideMiddle
            text: model.isDir && !model.name.endsWith("/") ? model.name + "/" : model.name
            font.strikeout: model.fate === "excluded"
            color: model.fate === "excluded" ? "#9e9e9e" : (model.fate === "unreadable" ? "#c62828" : palette.text)
            MouseArea {
                anchors.fill: parent
                enabled: model.hasChildren
                onDoubleClicked: row.previewModel.toggle(index)
            }
        }
        Label {
            visible: model.fate === "excluded" || model.fate === "unreadable"
            text: model.reason
            color: "#c62828"
            font.family: "monospace"
            font.pixelSize: 11
            elide: Text.ElideRight
            Layout.maximumWidth: 260
        }
        Label {
            visible: model.leftOut !== ""
            text: qsTr("%1 left out inside").arg(model.leftOut)
            color: "#e65100"
            font.pixelSize: 11
        }
        Label {
            text: model.size
            horizontalAlignment: Text.AlignRight
            Layout.preferredWidth: 80
            color: model.fate === "excluded" ? "#9e9e9e" : palette.text
        }
    }
}
