import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// A repository's sizes and one bar per archive (oldest left): its whole size, and in a
// stronger colour the part only it holds (what deleting it would free).
ColumnLayout {
    id: chart
    property var space
    signal measureRequested(bool refresh)
    spacing: 6

    RowLayout {
        Layout.fillWidth: true
        Label {
            Layout.fillWidth: true
            text: chart.space.summaryText !== "" ? chart.space.summaryText : qsTr("Space use: not measured yet.")
            font.bold: chart.space.summaryText !== ""
            wrapMode: Text.WordWrap
            Accessible.name: text
        }
        BusyIndicator {
            running: chart.space.busy
            visible: running
            implicitWidth: 22
            implicitHeight: 22
        }
        Button {
            text: chart.space.summaryText === "" ? qsTr("Measure") : qsTr("Measure again")
            enabled: !chart.space.busy
            Accessible.name: qsTr("Measure space")
            Accessible.onPressAction: clicked()
            onClicked: chart.measureRequested(chart.space.summaryText !== "")
        }
    }
    Label {
        Layout.fillWidth: true
        visible: text !== ""
        text: chart.space.busy ? chart.space.statusText : chart.space.mostUniqueText
        wrapMode: Text.WordWrap
        opacity: 0.8
        Accessible.name: text
    }
    ErrorBanner {
        Layout.fillWidth: true
        text: chart.space.errorText
    }
    ListView {
        id: bars
        Layout.fillWidth: true
        Layout.preferredHeight: 120
        visible: count > 0
        orientation: ListView.Horizontal
        clip: true
        spacing: 2
        model: chart.space
        Accessible.name: qsTr("Archive sizes")
        ScrollBar.horizontal: ScrollBar {}
        delegate: Item {
            required property string name
            required property string time
            required property string originalText
            required property string uniqueText
            required property real originalFraction
            required property real uniqueFraction
            required property bool mostUnique
            width: Math.max(8, Math.min(28, (bars.width - bars.count * 2) / Math.max(1, bars.count)))
            height: bars.height - 12
            Accessible.role: Accessible.StaticText
            Accessible.name: qsTr("%1: %2, %3 only in it").arg(name).arg(originalText).arg(uniqueText)
            Rectangle {
                anchors.bottom: parent.bottom
                width: parent.width
                height: Math.max(1, parent.height * originalFraction)
                color: Qt.rgba(0.12, 0.53, 0.9, 0.35)
            }
            Rectangle {
                anchors.bottom: parent.bottom
                width: parent.width
                height: Math.max(1, parent.height * uniqueFraction)
                color: mostUnique ? "#e65100" : "#1e88e5"
            }
            ToolTip.visible: hover.hovered
            ToolTip.text: qsTr("%1 (%2)\nSize: %3\nOnly in this archive: %4").arg(name).arg(time).arg(originalText).arg(uniqueText)
            HoverHandler { id: hover }
        }
    }
    RowLayout {
        visible: bars.count > 0
        spacing: 12
        Rectangle { width: 12; height: 12; color: Qt.rgba(0.12, 0.53, 0.9, 0.35) }
        Label { text: qsTr("archive size"); opacity: 0.75 }
        Rectangle { width: 12; height: 12; color: "#1e88e5" }
        Label { text: qsTr("only in this archive"); opacity: 0.75 }
        Rectangle { width: 12; height: 12; color: "#e65100" }
        Label { text: qsTr("the most"); opacity: 0.75 }
    }
}
