import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// What Kastell has mounted (each with Open and Unmount), and what mounting is doing now:
// opening a repository, indexing an archive (once), or why it could not.
Frame {
    id: bar
    required property var mounts
    visible: mounts.busy || mountRows.count > 0 || mounts.errorText !== "" || mounts.statusText !== ""
    Accessible.name: qsTr("Mounted archives")

    ColumnLayout {
        anchors.fill: parent
        spacing: 4

        RowLayout {
            Layout.fillWidth: true
            visible: bar.mounts.busy || bar.mounts.statusText !== ""
            BusyIndicator {
                running: bar.mounts.busy
                visible: running
                implicitWidth: 24
                implicitHeight: 24
            }
            Label {
                Layout.fillWidth: true
                text: bar.mounts.statusText
                wrapMode: Text.WordWrap
                Accessible.name: text
            }
            ProgressBar {
                visible: bar.mounts.progress >= 0
                value: bar.mounts.progress
                Accessible.name: qsTr("Indexing progress")
            }
            ToolButton {
                visible: !bar.mounts.busy
                text: qsTr("Dismiss")
                Accessible.name: qsTr("Dismiss mount message")
                Accessible.onPressAction: clicked()
                onClicked: bar.mounts.statusText = ""
            }
        }

        ErrorBanner {
            Layout.fillWidth: true
            text: bar.mounts.errorText
        }

        Repeater {
            id: mountRows
            model: bar.mounts
            delegate: RowLayout {
                id: row
                required property string mountpoint
                required property string description
                required property bool wholeConfig
                required property string borgReason
                required property string leftOut
                Layout.fillWidth: true
                spacing: 6
                Label {
                    Layout.fillWidth: true
                    // Shrinks (elided) rather than pushing the buttons out of the window.
                    Layout.preferredWidth: 100
                    elide: Text.ElideMiddle
                    text: qsTr("Mounted: %1 at %2").arg(row.description).arg(row.mountpoint)
                    Accessible.name: text
                    ToolTip.visible: hover.hovered && ToolTip.text !== ""
                    ToolTip.text: [row.borgReason !== "" ? qsTr("borg serves this mount: %1").arg(row.borgReason) : "",
                                   row.leftOut !== "" ? qsTr("Left out: %1").arg(row.leftOut) : ""].filter(t => t !== "").join("\n")
                    HoverHandler { id: hover }
                }
                Label {
                    visible: row.borgReason !== ""
                    // A whole-config mount has borg serve only the repositories Kastell cannot read.
                    text: row.wholeConfig ? qsTr("(partly by borg)") : qsTr("(by borg)")
                    opacity: 0.7
                    Accessible.name: qsTr("Mounted by borg: %1").arg(row.borgReason)
                }
                Button {
                    text: bar.mounts.openLabel
                    icon.name: "system-file-manager"
                    Accessible.name: qsTr("Open %1 in the file manager").arg(row.mountpoint)
                    Accessible.onPressAction: clicked()
                    onClicked: bar.mounts.openFolder(row.mountpoint)
                }
                Button {
                    text: qsTr("Unmount")
                    icon.name: "media-eject"
                    Accessible.name: qsTr("Unmount %1").arg(row.mountpoint)
                    Accessible.onPressAction: clicked()
                    onClicked: bar.mounts.unmount(row.mountpoint)
                }
            }
        }
    }
}
