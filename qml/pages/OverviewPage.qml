import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"
import "../dialogs"

// Configs and their repositories on the left, the selected repository's archives in the
// middle, the selected archive's details on the right.
SplitView {
    id: page
    required property var repositories
    property var mounts

    property string configPath: ""
    property string repository: ""
    signal browseRequested(string archive)
    // A check or a repair of the selected repository (the window runs it with its progress).
    signal checkRequested(string repository)
    signal repairRequested(string repository)

    function refresh() {
        archives.refresh()
        if (archiveList.currentArchive !== "")
            details.load(configPath, repository, archiveList.currentArchive)
    }

    function select(config, label) {
        configPath = config
        repository = label
        archiveList.currentArchive = ""
        details.clear()
        space.clear()
        archives.load(config, label)
        if (archiveList.spaceShown)
            space.measure(config, label, false)
    }

    ArchiveListModel { id: archives }
    ArchiveDetails { id: details }
    RepositorySpace { id: space }
    ArchiveHousekeeping {
        id: housekeeping
        onArchivesChanged: {
            // A mount of a deleted archive ended with it.
            if (page.mounts)
                page.mounts.reread()
            archiveList.currentArchive = ""
            details.clear()
            archives.refresh()
            if (archiveList.spaceShown)
                space.measure(page.configPath, page.repository, false)
        }
    }
    DeleteArchivesDialog {
        id: deleteDialog
        repository: page.repository
        onConfirmed: names => housekeeping.deleteArchives(page.configPath, page.repository, names)
    }
    RenameArchiveDialog {
        id: renameDialog
        housekeeping: housekeeping
        onConfirmed: (oldName, newName) => housekeeping.renameArchive(page.configPath, page.repository, oldName, newName)
    }
    RepairDialog {
        id: repairDialog
        repository: page.repository
        onConfirmed: page.repairRequested(page.repository)
    }

    RepositoryList {
        SplitView.preferredWidth: 300
        SplitView.minimumWidth: 200
        model: page.repositories
        onRepositorySelected: (config, label) => page.select(config, label)
    }

    ArchiveList {
        id: archiveList
        SplitView.fillWidth: true
        SplitView.minimumWidth: 260
        model: archives
        repositoryName: page.repository
        space: space
        housekeeping: housekeeping
        onDeleteRequested: names => {
            deleteDialog.names = names
            deleteDialog.open()
        }
        onRenameRequested: name => {
            renameDialog.oldName = name
            renameDialog.open()
        }
        onCheckRequested: page.checkRequested(page.repository)
        onRepairRequested: repairDialog.open()
        onSpaceShownChanged: if (spaceShown && space.summaryText === "" && !space.busy) space.measure(page.configPath, page.repository, false)
        onMeasureRequested: refresh => space.measure(page.configPath, page.repository, refresh)
        onArchiveSelected: name => details.load(page.configPath, page.repository, name)
    }

    ArchiveDetailsPane {
        SplitView.preferredWidth: 320
        SplitView.minimumWidth: 220
        details: details
        mounts: page.mounts
        configPath: page.configPath
        repository: page.repository
        onBrowseRequested: page.browseRequested(archiveList.currentArchive)
    }
}
