import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "pages"
import "components"

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

    // Archives mounted for the file manager; unmounted when Kastell quits.
    MountManager {
        id: mountManager
        Component.onCompleted: cleanStale()
    }

    // The first-run wizard: shown when no config exists, or to add one (More → Set up another backup).
    property bool addingConfig: false
    // Restore from an existing backup (from the wizard's first step).
    property bool recovering: false

    AppPreferences { id: appPreferences }

    BackupRunner {
        id: runner
        onRunFinished: runId => {
            history.reload()
            overview.refresh()
            repositories.refreshStatus()
        }
        onDetailsRequested: runId => window.showRun(runId)
    }

    // "No backup for N days" is noticed once per last success; checking hourly is enough.
    Timer {
        interval: 3600 * 1000
        repeat: true
        running: repositories.configCount > 0
        triggeredOnStart: true
        onTriggered: runner.checkStale()
    }

    // "backed up 3 hours ago" stays true, and runs from the schedule or a terminal show up.
    Timer {
        interval: 60 * 1000
        repeat: true
        running: repositories.configCount > 0
        onTriggered: repositories.refreshStatus()
    }

    // A second `kastell`, the tray or a notification's "Show details" talk to this window.
    WindowRequests {
        id: requests
        Component.onCompleted: listen()
        onActivateRequested: {
            window.raise()
            window.requestActivate()
        }
        onRunRequested: (runId, config, repository) => {
            if (config !== "" && config !== overview.configPath)
                overview.select(config, repository)
            window.showRun(runId)
        }
    }

    function showRun(runId) {
        tabs.currentIndex = 2
        history.showRun(runId)
        window.raise()
        window.requestActivate()
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
                TabButton { text: qsTr("Browse"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 1 }
                TabButton { text: qsTr("History"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 2 }
                TabButton { text: qsTr("Settings"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 3 }
                TabButton { text: qsTr("Excludes"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 4 }
                TabButton { text: qsTr("Schedule"); width: implicitWidth; Accessible.onPressAction: tabs.currentIndex = 5 }
            }
            Item { Layout.fillWidth: true }
            ToolButton {
                id: backupButton
                visible: repositories.configCount > 0
                enabled: !runner.running && overview.configPath !== ""
                text: qsTr("Back up now")
                icon.name: "backup"
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: runner.start(overview.configPath, "backup", "")
                ToolTip.visible: hovered
                ToolTip.text: overview.configPath === "" ? qsTr("Select a repository first")
                    : qsTr("Create an archive in every repository of this config, then prune, compact and check as it says")
            }
            ToolButton {
                visible: repositories.configCount > 0
                enabled: !runner.running && overview.configPath !== ""
                text: qsTr("More")
                icon.name: "overflow-menu"
                Accessible.name: qsTr("More actions")
                Accessible.onPressAction: clicked()
                onClicked: actionsMenu.open()
                Menu {
                    id: actionsMenu
                    MenuItem { text: qsTr("Create an archive only"); onTriggered: runner.start(overview.configPath, "create", "") }
                    MenuItem { text: qsTr("Back up “%1” only").arg(overview.repository); onTriggered: runner.start(overview.configPath, "backup", overview.repository) }
                    MenuSeparator {}
                    MenuItem { text: qsTr("Prune old archives"); onTriggered: runner.start(overview.configPath, "prune", "") }
                    MenuItem { text: qsTr("Compact repositories"); onTriggered: runner.start(overview.configPath, "compact", "") }
                    MenuItem { text: qsTr("Check repositories"); onTriggered: runner.start(overview.configPath, "check", "") }
                    MenuSeparator {}
                    MenuItem {
                        text: qsTr("Mount every archive of “%1”").arg(overview.repository)
                        enabled: !mountManager.busy
                        Accessible.name: text
                        Accessible.onPressAction: { actionsMenu.close(); triggered() }
                        onTriggered: mountManager.mountAndOpen(overview.configPath, overview.repository, "")
                    }
                    MenuItem {
                        text: qsTr("Mount every repository of this config")
                        enabled: !mountManager.busy
                        Accessible.name: text
                        Accessible.onPressAction: { actionsMenu.close(); triggered() }
                        onTriggered: mountManager.mountAndOpen(overview.configPath, "", "")
                    }
                    MenuSeparator {}
                    MenuItem {
                        text: qsTr("Set up another backup…")
                        Accessible.name: text
                        Accessible.onPressAction: { actionsMenu.close(); triggered() }
                        onTriggered: window.addingConfig = true
                    }
                }
            }
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

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        // Keys the first run did not save: said until they are.
        Label {
            visible: appPreferences.keysWarning !== ""
            Layout.fillWidth: true
            Layout.margins: 6
            padding: 8
            wrapMode: Text.WordWrap
            color: "#b26a00"
            text: appPreferences.keysWarning
            Accessible.name: text
            background: Rectangle { color: "#fff3e0"; radius: 4 }
        }

        BackupProgress {
            Layout.fillWidth: true
            Layout.margins: 6
            runner: runner
            onDetailsRequested: runId => window.showRun(runId)
        }

        MountsBar {
            Layout.fillWidth: true
            Layout.leftMargin: 6
            Layout.rightMargin: 6
            mounts: mountManager
        }

        StackLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            currentIndex: repositories.configCount === 0 || window.addingConfig || window.recovering ? 0 : 1 + tabs.currentIndex

            // The first run, or its twin: restore from an existing backup.
            StackLayout {
                currentIndex: window.recovering ? 1 : 0

                SetupWizardPage {
                    cancellable: repositories.configCount > 0
                    onCancelled: window.addingConfig = false
                    onRecoverRequested: window.recovering = true
                    onFinished: configPath => {
                        window.addingConfig = false
                        appPreferences.reload()
                        repositories.reload()
                        tabs.currentIndex = 0
                        runner.start(configPath, "backup", "")
                    }
                }

                RecoverPage {
                    onCancelled: window.recovering = false
                    onAdopted: configPath => {
                        window.recovering = false
                        window.addingConfig = false
                        repositories.reload()
                        overview.refresh()
                        tabs.currentIndex = 0
                    }
                }
            }

            OverviewPage {
                onCheckRequested: repository => runner.start(overview.configPath, "check", repository)
                onRepairRequested: repository => runner.start(overview.configPath, "repair", repository)
                id: overview
                repositories: repositories
                mounts: mountManager
                onBrowseRequested: archive => {
                    browsePage.pendingArchive = archive
                    tabs.currentIndex = 1
                }
            }

            BrowsePage {
                id: browsePage
                configPath: overview.configPath
                repository: overview.repository
            }

            HistoryPage {
                id: history
                configPath: overview.configPath
            }

            SettingsPage {
                configPath: overview.configPath
                repository: overview.repository
                onPruneRequested: {
                    runner.start(overview.configPath, "prune", overview.repository)
                    tabs.currentIndex = 0
                }
            }

            ExcludesPage {
                configPath: overview.configPath
            }

            SchedulePage {
                configPath: overview.configPath
                onScheduleChanged: repositories.refreshStatus()
            }
        }
    }
}
