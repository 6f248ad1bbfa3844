import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "pages"

ApplicationWindow {
    id: window
    width: 1120
    height: 700
    minimumWidth: 720
    minimumHeight: 440
    visible: true
    title: "Kastell"

    RepositoryListModel {
        id: repositories
        Component.onCompleted: reload()
    }

    header: ToolBar {
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 12
            anchors.rightMargin: 6
            Label {
                text: "Kastell"
                font.bold: true
                font.pixelSize: 16
            }
            TabBar {
                id: tabs
                visible: repositories.configCount > 0
                Layout.leftMargin: 24
                TabButton { text: qsTr("Archives"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 0 }
                TabButton { text: qsTr("Settings"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 1 }
            }
            Item { Layout.fillWidth: true }
            ToolButton {
                id: refreshButton
                text: qsTr("Refresh")
                icon.name: "view-refresh"
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: {
                    repositories.reload()
                    overview.refresh()
                }
            }
        }
    }

    StackLayout {
        anchors.fill: parent
        currentIndex: repositories.configCount === 0 ? 0 : 1 + tabs.currentIndex

        EmptyStatePage {}

        OverviewPage {
            id: overview
            repositories: repositories
        }

        SettingsPage {
            configPath: overview.configPath
        }
    }
}
