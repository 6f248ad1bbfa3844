import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// Every archive's version of one path, oldest first; the ones that differ from the version
// before are marked. Any of them can be shown in the browser or restored.
Dialog {
    id: dialog
    property string configPath: ""
    property string repository: ""
    signal showRequested(string archive, string path)
    signal restoreRequested(string archive, string path)
    title: qsTr("Versions of /%1").arg(versions.path)
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(parent ? parent.width - 40 : 860, 860)
    height: Math.min(parent ? parent.height - 40 : 560, 560)
    parent: Overlay.overlay
    anchors.centerIn: parent

    function load(path) {
        versions.load(configPath, repository, path)
        open()
    }

    VersionList { id: versions }

    ColumnLayout {
        anchors.fill: parent
        spacing: 6
        Label {
            text: versions.busy ? versions.statusText || qsTr("Looking through every archive…") : versions.statusText
            opacity: 0.8
            Accessible.name: text
        }
        ErrorBanner {
            Layout.fillWidth: true
            text: versions.errorText
        }
        ListView {
            id: list
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: versions
            Accessible.name: qsTr("Versions")
            ScrollBar.vertical: ScrollBar {}
            delegate: ItemDelegate {
                required property int index
                required property string archive
                required property string time
                required property string sizeText
                required property string modified
                required property bool changed
                width: ListView.view.width
                Accessible.name: qsTr("%1, %2, modified %3%4").arg(archive).arg(sizeText).arg(modified).arg(changed ? qsTr(", changed") : "")
                contentItem: RowLayout {
                    spacing: 10
                    Label {
                        text: changed ? "●" : "○"
                        color: changed ? "#1e88e5" : palette.text
                        opacity: changed ? 1 : 0.4
                        ToolTip.visible: hovered
                        ToolTip.text: changed ? qsTr("Differs from the version before") : qsTr("Same as the version before")
                    }
                    Label { text: time; font.family: "monospace"; opacity: 0.75 }
                    Label { Layout.fillWidth: true; text: archive; elide: Text.ElideRight }
                    Label { text: sizeText; Layout.preferredWidth: 90; horizontalAlignment: Text.AlignRight }
                    Label { text: qsTr("modified %1").arg(modified); opacity: 0.7 }
                    ToolButton {
                        text: qsTr("Show")
                        Accessible.name: qsTr("Show in %1").arg(archive)
                        Accessible.onPressAction: clicked()
                        onClicked: { dialog.showRequested(archive, versions.path); dialog.close() }
                    }
                    ToolButton {
                        text: qsTr("Restore…")
                        Accessible.name: qsTr("Restore from %1").arg(archive)
                        Accessible.onPressAction: clicked()
                        onClicked: { dialog.restoreRequested(archive, versions.path); dialog.close() }
                    }
                }
            }
        }
    }
}
