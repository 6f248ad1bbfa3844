import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// Configs and their repositories on the left, the selected repository's archives in the
// middle, the selected archive's details on the right.
SplitView {
    id: page
    required property var repositories
    property var mounts

    property string configPath: ""
    property string repository: ""
    signal browseRequested(string archive)

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
        archives.load(config, label)
    }

    ArchiveListModel { id: archives }
    ArchiveDetails { id: details }

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
