import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Sizes, file count, duration and host of the selected archive, from `borg info --json`.
Pane {
    id: pane
    property var details
    property var mounts
    property string configPath: ""
    property string repository: ""
    signal browseRequested()

    // Where the selected archive is mounted now ("" when it is not).
    readonly property string mountedAt: mounts && details.archiveName !== ""
        ? (mounts.revision, mounts.mountpointOf(configPath, repository, details.archiveName)) : ""

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        Label {
            Layout.fillWidth: true
            text: pane.details.archiveName === "" ? qsTr("Select an archive") : pane.details.archiveName
            font.bold: true
            wrapMode: Text.WrapAnywhere
        }
        BusyIndicator {
            running: pane.details.busy
            visible: running
            Accessible.name: qsTr("Loading archive details")
        }
        ErrorBanner {
            Layout.fillWidth: true
            text: pane.details.errorText
        }
        GridLayout {
            visible: pane.details.loaded
            columns: 2
            columnSpacing: 12
            rowSpacing: 6
            Layout.fillWidth: true

            Label { text: qsTr("Created"); opacity: 0.7 }
            Label { text: pane.details.created }
            Label { text: qsTr("Duration"); opacity: 0.7 }
            Label { text: pane.details.duration }
            Label { text: qsTr("Host"); opacity: 0.7 }
            Label { text: pane.details.hostname + " (" + pane.details.username + ")" }
            Label { text: qsTr("Files"); opacity: 0.7 }
            Label { text: pane.details.fileCount }
            Label { text: qsTr("Original size"); opacity: 0.7 }
            Label { text: pane.details.originalSize }
            Label { text: qsTr("Compressed"); opacity: 0.7 }
            Label { text: pane.details.compressedSize }
            Label { text: qsTr("Deduplicated"); opacity: 0.7 }
            Label { text: pane.details.deduplicatedSize }
        }
        Button {
            visible: pane.details.archiveName !== ""
            text: qsTr("Browse files")
            icon.name: "document-open-folder"
            Accessible.name: qsTr("Browse files of %1").arg(pane.details.archiveName)
            Accessible.onPressAction: clicked()
            onClicked: pane.browseRequested()
        }
        RowLayout {
            visible: pane.details.archiveName !== "" && pane.mounts !== undefined
            Button {
                text: pane.mountedAt === "" ? qsTr("Mount") : qsTr("Unmount")
                icon.name: pane.mountedAt === "" ? "drive-harddisk" : "media-eject"
                enabled: pane.mountedAt !== "" || !pane.mounts.busy
                Accessible.name: (pane.mountedAt === "" ? qsTr("Mount archive %1") : qsTr("Unmount archive %1")).arg(pane.details.archiveName)
                Accessible.onPressAction: clicked()
                onClicked: pane.mountedAt === ""
                    ? pane.mounts.mount(pane.configPath, pane.repository, pane.details.archiveName, "")
                    : pane.mounts.unmount(pane.mountedAt)
                ToolTip.visible: hovered
                ToolTip.text: pane.mountedAt === "" ? qsTr("Mount this archive read-only, so any program can open its files")
                    : qsTr("Mounted at %1").arg(pane.mountedAt)
            }
            Button {
                text: pane.mounts ? pane.mounts.openLabel : ""
                icon.name: "system-file-manager"
                enabled: pane.mountedAt !== "" || !pane.mounts.busy
                Accessible.name: qsTr("Open archive %1 in the file manager").arg(pane.details.archiveName)
                Accessible.onPressAction: clicked()
                onClicked: pane.mounts.mountAndOpen(pane.configPath, pane.repository, pane.details.archiveName)
            }
        }
        Item { Layout.fillHeight: true }
    }
}
