import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Where the browser is: the archive, then each folder down to the shown one; each is a button
// that goes there.
Flow {
    id: crumbs
    // Maps with `label` and `path`, the archive first (ArchiveBrowser.breadcrumbs).
    property var parts: []
    signal chosen(string path)
    spacing: 0

    Repeater {
        model: crumbs.parts
        delegate: Row {
            required property var modelData
            required property int index
            Label {
                visible: index > 0
                text: "›"
                opacity: 0.6
                anchors.verticalCenter: parent.verticalCenter
                leftPadding: 2
                rightPadding: 2
            }
            ToolButton {
                text: modelData.label
                font.bold: index === crumbs.parts.length - 1
                icon.name: index === 0 ? "folder-root" : ""
                Accessible.name: index === 0 ? qsTr("Archive top level") : qsTr("Go to %1").arg(modelData.label)
                Accessible.onPressAction: clicked()
                onClicked: crumbs.chosen(modelData.path)
            }
        }
    }
}
