import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// What takes the space in the shown folder: one bar per child, largest first, the rest summed.
ColumnLayout {
    id: chart
    property string json: "[]"
    property int shown: 8
    readonly property var sizes: {
        try { return JSON.parse(json) } catch (e) { return [] }
    }
    readonly property real total: sizes.reduce((sum, s) => sum + s.size, 0)
    readonly property var bars: {
        const top = sizes.slice(0, shown)
        const rest = sizes.slice(shown).reduce((sum, s) => sum + s.size, 0)
        if (rest > 0)
            top.push({ name: qsTr("%1 others").arg(sizes.length - shown), size: rest, folder: false, others: true })
        return top
    }
    readonly property var colors: ["#1e88e5", "#43a047", "#8e24aa", "#f4511e", "#00897b", "#c0ca33", "#6d4c41", "#3949ab", "#9e9e9e"]
    spacing: 3

    function human(bytes) {
        const units = ["B", "kB", "MB", "GB", "TB"]
        let i = 0
        while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i++ }
        return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i]
    }

    Label {
        text: chart.total > 0 ? qsTr("Space in this folder: %1").arg(chart.human(chart.total)) : qsTr("Nothing in this folder takes space")
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
                    width: chart.total > 0 ? Math.max(2, parent.width * modelData.size / chart.total) : 0
                    height: parent.height
                    radius: 2
                    color: modelData.others ? chart.colors[8] : chart.colors[index % 8]
                }
            }
            Label {
                Layout.preferredWidth: 110
                horizontalAlignment: Text.AlignRight
                text: chart.human(modelData.size) + (chart.total > 0 ? "  " + Math.round(100 * modelData.size / chart.total) + " %" : "")
                font.family: "monospace"
                opacity: 0.8
            }
            Accessible.role: Accessible.StaticText
            Accessible.name: qsTr("%1: %2").arg(modelData.name).arg(chart.human(modelData.size))
        }
    }
}
