import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// The retention preview: the repository's archives on a timeline, each kept (filled, with the
// rule that keeps it) or pruned (a ring), for the rules as they are typed; the list below says
// it in words, newest first.
ColumnLayout {
    id: timeline
    required property var preview
    spacing: 6

    Label {
        Layout.fillWidth: true
        wrapMode: Text.WordWrap
        text: timeline.preview.errorText !== "" ? timeline.preview.errorText
            : timeline.preview.busy ? qsTr("Reading the archives…") : timeline.preview.summaryText
        color: timeline.preview.errorText !== "" ? "#c62828" : palette.text
        Accessible.name: text
    }

    Item {
        id: strip
        Layout.fillWidth: true
        implicitHeight: 34
        visible: repeater.count > 0
        Rectangle { x: 0; y: 16; width: parent.width; height: 2; color: "#9e9e9e" }
        Label { x: 0; y: 22; text: qsTr("oldest"); font.pixelSize: 10; opacity: 0.7 }
        Label { x: parent.width - width; y: 22; text: qsTr("newest"); font.pixelSize: 10; opacity: 0.7 }
        Repeater {
            id: repeater
            model: timeline.preview
            delegate: Rectangle {
                required property bool keep
                required property real position
                width: 10
                height: 10
                radius: 5
                x: position * (strip.width - width)
                y: keep ? 4 : 12
                color: keep ? "#2e7d32" : "transparent"
                border.color: keep ? "#2e7d32" : "#c62828"
                border.width: 2
            }
        }
    }

    ListView {
        Layout.fillWidth: true
        Layout.preferredHeight: 120
        clip: true
        model: timeline.preview
        ScrollBar.vertical: ScrollBar {}
        delegate: RowLayout {
            required property string archive
            required property string time
            required property bool keep
            required property string ruleText
            width: ListView.view.width
            Label { text: time; Layout.preferredWidth: 130; opacity: 0.8 }
            Label { text: archive; Layout.fillWidth: true; elide: Text.ElideMiddle }
            Label {
                text: ruleText
                color: keep ? "#2e7d32" : "#c62828"
                Accessible.name: archive + ": " + ruleText
            }
        }
    }
}
