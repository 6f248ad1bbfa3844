import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// What takes the space in the shown folder: one bar per child, largest first, the rest summed.
ColumnLayout {
    id: chart
    // Maps with `name`, `sizeText`, `share`, `folder` and `others`, largest first, sizes in
    // words by Kastell's units (ArchiveBrowser.sizeBars); `total` in words, "" for nothing.
    property var bars: []
    property string total: ""
    readonly property var colors: ["#1e88e5", "#43a047", "#8e24aa", "#f4511e", "#00897b", "#c0ca33", "#6d4c41", "#3949ab", "#9e9e9e"]
    spacing: 3

    Label {
        text: chart.total !== "" ? qsTr("Space in this folder: %1").arg(chart.total) : qsTr("Nothing in this folder takes space")
        font.bold: true
        Accessible.name: text
    }
    Repeater {
        model: chart.bars
        delegate: RowLayout {
            required property var modelData
            required property int index
            Layout.fillWidth: true
            spacing: 6
            Label {
                Layout.preferredWidth: 130
                text: (modelData.folder ? "▸ " : "") + modelData.name
                elide: Text.ElideMiddle
            }
            Rectangle {
                Layout.fillWidth: true
                Layout.preferredHeight: 14
                color: Qt.rgba(0.5, 0.5, 0.5, 0.15)
                radius: 2
                Rectangle {
                    width: modelData.share > 0 ? Math.max(2, parent.width * modelData.share) : 0
                    height: parent.height
                    radius: 2
                    color: modelData.others ? chart.colors[8] : chart.colors[index % 8]
                }
            }
            Label {
                Layout.preferredWidth: 110
                horizontalAlignment: Text.AlignRight
                text: modelData.sizeText
                font.family: "monospace"
                opacity: 0.8
            }
            Accessible.role: Accessible.StaticText
            Accessible.name: qsTr("%1: %2").arg(modelData.name).arg(modelData.sizeText)
        }
    }
}
