import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// Repositories grouped by config file; a config that cannot be read shows its error.
Pane {
    id: pane
    property alias model: list.model
    property string selectedConfig: ""
    property string selectedLabel: ""
    signal repositorySelected(string configPath, string label)
    onRepositorySelected: (configPath, label) => {
        selectedConfig = configPath
        selectedLabel = label
    }
    padding: 0

    ListView {
        id: list
        anchors.fill: parent
        clip: true
        currentIndex: -1
        Accessible.name: qsTr("Repositories")
        section.property: "configName"
        section.delegate: Label {
            required property string section
            width: ListView.view.width
            padding: 8
            topPadding: 12
            text: section
            font.bold: true
            elide: Text.ElideMiddle
        }

        delegate: ItemDelegate {
            id: row
            required property int index
            required property string configPath
            required property string configError
            required property string label
            required property string location
            required property string kind
            required property string statusText
            required property int health
            required property string scheduleText
            width: ListView.view.width
            highlighted: ListView.isCurrentItem
            enabled: configError === ""
            text: label
            Accessible.name: configError === "" ? label : configError
            Accessible.onPressAction: clicked()
            contentItem: ColumnLayout {
                spacing: 2
                Label {
                    Layout.fillWidth: true
                    visible: row.configError === ""
                    text: row.label
                    elide: Text.ElideRight
                }
                Label {
                    Layout.fillWidth: true
                    visible: row.configError === ""
                    text: (row.kind === "ssh" ? qsTr("SSH") : row.kind === "local" ? qsTr("Local") : qsTr("Remote")) + " · " + row.location
                    font.pixelSize: 11
                    opacity: 0.7
                    elide: Text.ElideMiddle
                }
                // What the tray says of it: the last backup, a failure's reason, the schedule.
                Label {
                    Layout.fillWidth: true
                    visible: row.configError === "" && text !== ""
                    text: [row.statusText, row.scheduleText].filter(t => t !== "").join(" · ")
                    font.pixelSize: 11
                    wrapMode: Text.WordWrap
                    maximumLineCount: 3
                    elide: Text.ElideRight
                    color: row.health === RepositoryListModel.Failed ? "#c0392b"
                         : row.health === RepositoryListModel.Overdue ? "#b26a00"
                         : palette.text
                    opacity: row.health === RepositoryListModel.Failed || row.health === RepositoryListModel.Overdue ? 1.0 : 0.7
                }
                Label {
                    Layout.fillWidth: true
                    visible: row.configError !== ""
                    text: row.configError
                    color: "#c0392b"
                    wrapMode: Text.WordWrap
                }
            }
            onClicked: {
                list.currentIndex = index
                pane.repositorySelected(configPath, label)
            }
        }

        // Keep the selected repository across a reload (Refresh); otherwise select the first
        // readable one, so archives show at once.
        function restoreSelection() {
            let fallback = -1
            for (let i = 0; i < count; ++i) {
                const item = itemAtIndex(i)
                if (!item || item.configError !== "")
                    continue
                if (fallback < 0)
                    fallback = i
                if (item.configPath === pane.selectedConfig && item.label === pane.selectedLabel) {
                    currentIndex = i
                    return
                }
            }
            currentIndex = fallback
            if (fallback >= 0) {
                const item = itemAtIndex(fallback)
                pane.repositorySelected(item.configPath, item.label)
            }
        }
        onCountChanged: Qt.callLater(restoreSelection)
        Connections {
            target: list.model
            function onModelReset() { Qt.callLater(list.restoreSelection) }
        }
    }
}
