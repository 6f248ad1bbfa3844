import QtQuick
import QtQuick.Controls
import QtQuick.Controls.impl
import QtQuick.Layouts
import org.kde.kastell
import "../components"
import "../dialogs"

// One archive's files, from its index: breadcrumbs, a sortable folder listing with keyboard
// navigation and multi-select, search as you type (this archive or all), a preview of the
// selection, folder sizes, versions, comparing archives and restoring.
SplitView {
    id: page
    property string configPath: ""
    property string repository: ""
    // Selected paths (archive path → archive name); cleared when the archive changes.
    property var selection: ({})
    property int selectionCount: 0
    property int anchorRow: -1
    property string pendingReveal: ""
    // An archive picked on the Archives tab, shown once the repository is open.
    property string pendingArchive: ""
    onPendingArchiveChanged: if (pendingArchive !== "" && browser.archive !== "") Qt.callLater(showPendingArchive)
    function showPendingArchive() {
        if (pendingArchive === "")
            return
        const name = pendingArchive
        pendingArchive = ""
        if (name !== browser.archive)
            browser.chooseArchive(name)
    }
    readonly property var archives: browser.archives
    readonly property var archiveNames: archives.map(a => a.name)

    function load() {
        if (visible && configPath !== "" && repository !== "")
            browser.open(configPath, repository)
    }
    onVisibleChanged: load()
    onConfigPathChanged: load()
    onRepositoryChanged: load()

    function setSelection(next) {
        selection = next
        selectionCount = Object.keys(next).length
    }
    function select(row, modifiers) {
        const path = browser.pathAt(row)
        if (path === "")
            return
        let next = {}
        if (modifiers & Qt.ControlModifier) {
            next = Object.assign({}, selection)
            if (next[path] !== undefined) delete next[path]
            else next[path] = browser.archiveAt(row)
            anchorRow = row
        } else if ((modifiers & Qt.ShiftModifier) && anchorRow >= 0) {
            for (let r = Math.min(anchorRow, row); r <= Math.max(anchorRow, row); r++)
                next[browser.pathAt(r)] = browser.archiveAt(r)
        } else {
            next[path] = browser.archiveAt(row)
            anchorRow = row
        }
        setSelection(next)
    }
    function selectAll() {
        let next = {}
        for (let r = 0; r < list.count; r++)
            next[browser.pathAt(r)] = browser.archiveAt(r)
        setSelection(next)
    }
    // The selection's paths (or the current row's) and the archive they come from.
    function chosen() {
        let paths = Object.keys(selection)
        if (paths.length === 0 && list.currentIndex >= 0)
            return { archive: browser.archiveAt(list.currentIndex), paths: [browser.pathAt(list.currentIndex)] }
        const archive = selection[paths[0]]
        return { archive: archive, paths: paths.filter(p => selection[p] === archive) }
    }
    function restore(mode) {
        const c = chosen()
        if (c.paths.length > 0)
            restoreDialog.start(mode, c.archive, c.paths)
    }
    function showVersions() {
        const c = chosen()
        versionsDialog.load(c.paths.length > 0 ? c.paths[0] : browser.folder)
    }

    ArchiveBrowser {
        id: browser
        // Deferred: these run inside the browser's own property changes.
        onArchiveChanged: {
            page.setSelection({})
            if (page.pendingArchive !== "" && archive !== "" && archive !== page.pendingArchive)
                Qt.callLater(page.showPendingArchive)
        }
        onRevealed: path => page.pendingReveal = path
        onFolderShown: (archive, folder) => folderSizes.show(configPath, repository, archive, folder)
        onModelReset: {
            entryPreview.clear()
            list.currentIndex = -1
            if (page.pendingReveal !== "") {
                const row = browser.rowOf(page.pendingReveal)
                if (row >= 0) {
                    list.currentIndex = row
                    page.select(row, 0)
                    list.positionViewAtIndex(row, ListView.Center)
                    page.pendingReveal = ""
                }
            }
        }
    }

    // The selected entry's preview and the shown folder's size chart, read from the
    // browser's open session and index.
    EntryPreview { id: entryPreview }
    FolderSizes { id: folderSizes }

    VersionsDialog {
        id: versionsDialog
        configPath: page.configPath
        repository: page.repository
        onShowRequested: (archive, path) => {
            const parent = path.lastIndexOf("/") > 0 ? path.substring(0, path.lastIndexOf("/")) : ""
            page.pendingReveal = path
            browser.folder = parent
            browser.chooseArchive(archive)
        }
        onRestoreRequested: (archive, path) => restoreDialog.start("original", archive, [path])
    }
    CompareDialog {
        id: compareDialog
        configPath: page.configPath
        repository: page.repository
        archiveNames: page.archiveNames
    }
    RestoreDialog {
        id: restoreDialog
        configPath: page.configPath
        repository: page.repository
    }

    ColumnLayout {
        SplitView.fillWidth: true
        SplitView.minimumWidth: 420
        spacing: 4

        RowLayout {
            Layout.fillWidth: true
            Layout.margins: 6
            Label { text: qsTr("Archive") }
            ComboBox {
                id: archiveBox
                Layout.preferredWidth: 300
                model: page.archives
                textRole: "name"
                currentIndex: page.archiveNames.indexOf(browser.archive)
                Accessible.name: qsTr("Archive to browse")
                delegate: ItemDelegate {
                    required property var modelData
                    required property int index
                    width: archiveBox.width
                    text: modelData.name + "   " + modelData.time
                    Accessible.name: modelData.name
                    Accessible.onPressAction: clicked()
                    onClicked: { browser.chooseArchive(modelData.name); archiveBox.popup.close() }
                }
            }
            TextField {
                id: searchField
                Layout.fillWidth: true
                placeholderText: allArchives.checked ? qsTr("Search names in every archive…") : qsTr("Search names in this archive…")
                Accessible.name: qsTr("Search names")
                onTextEdited: searchDelay.restart()
                Keys.onDownPressed: { list.forceActiveFocus(); if (list.count > 0) list.currentIndex = 0 }
                Keys.onEscapePressed: { text = ""; browser.search("", allArchives.checked) }
                Timer {
                    id: searchDelay
                    interval: 150
                    onTriggered: browser.search(searchField.text, allArchives.checked)
                }
            }
            CheckBox {
                id: allArchives
                text: qsTr("All archives")
                Accessible.name: text
                Accessible.onPressAction: toggle()
                onToggled: if (searchField.text !== "") browser.search(searchField.text, checked)
            }
        }

        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: 6
            Layout.rightMargin: 6
            ToolButton {
                icon.name: "go-up"
                text: qsTr("Up")
                enabled: browser.folder !== "" && browser.searchText === ""
                Accessible.name: qsTr("Up one folder")
                Accessible.onPressAction: clicked()
                onClicked: browser.goUp()
            }
            Breadcrumbs {
                Layout.fillWidth: true
                parts: browser.breadcrumbs
                visible: browser.searchText === ""
                onChosen: path => browser.goTo(path)
            }
            Label {
                Layout.fillWidth: true
                visible: browser.searchText !== ""
                text: qsTr("Names containing “%1”").arg(browser.searchText)
                font.bold: true
            }
            ToolButton {
                text: qsTr("Compare…")
                icon.name: "kompare"
                enabled: page.archiveNames.length > 1
                Accessible.name: qsTr("Compare two archives")
                Accessible.onPressAction: clicked()
                onClicked: compareDialog.start(browser.archive)
            }
        }

        ErrorBanner {
            Layout.fillWidth: true
            Layout.leftMargin: 6
            Layout.rightMargin: 6
            text: browser.errorText
        }

        // Column headers: click to sort, again to reverse.
        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: 6
            Layout.rightMargin: 18
            spacing: 0
            Repeater {
                model: [[ArchiveBrowser.Name, qsTr("Name"), true], [ArchiveBrowser.Size, qsTr("Size"), false], [ArchiveBrowser.Modified, qsTr("Modified"), false]]
                delegate: ToolButton {
                    required property var modelData
                    Layout.fillWidth: modelData[2]
                    Layout.preferredWidth: modelData[2] ? -1 : (modelData[0] === ArchiveBrowser.Size ? 100 : 170)
                    text: modelData[1] + (browser.sortKey === modelData[0] ? (browser.sortDescending ? " ▼" : " ▲") : "")
                    font.bold: browser.sortKey === modelData[0]
                    Accessible.name: qsTr("Sort by %1").arg(modelData[1])
                    Accessible.onPressAction: clicked()
                    onClicked: browser.sortBy(modelData[0])
                }
            }
        }

        ListView {
            id: list
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: browser
            currentIndex: -1
            focus: true
            keyNavigationEnabled: true
            highlightMoveDuration: 0
            Accessible.name: qsTr("Files")
            ScrollBar.vertical: ScrollBar {}
            onCurrentIndexChanged: entryPreview.show(browser.configPath, browser.repository, browser.archiveAt(currentIndex), browser.pathAt(currentIndex))
            Keys.onReturnPressed: browser.activate(currentIndex)
            Keys.onEnterPressed: browser.activate(currentIndex)
            Keys.onSpacePressed: page.select(currentIndex, Qt.ControlModifier)
            Keys.onPressed: event => {
                if (event.key === Qt.Key_Backspace) { browser.goUp(); event.accepted = true }
                else if (event.key === Qt.Key_A && (event.modifiers & Qt.ControlModifier)) { page.selectAll(); event.accepted = true }
                else if (event.key === Qt.Key_F && (event.modifiers & Qt.ControlModifier)) { searchField.forceActiveFocus(); event.accepted = true }
                else if (event.text.length === 1 && event.text >= " " && !(event.modifiers & Qt.ControlModifier)) {
                    // Typing in the list starts a search.
                    searchField.forceActiveFocus(); searchField.text = event.text; searchDelay.restart(); event.accepted = true
                }
            }

            delegate: ItemDelegate {
                id: row
                required property int index
                required property string name
                required property string path
                required property string kind
                required property string iconName
                required property string sizeText
                required property string modified
                required property string archiveName
                width: ListView.view.width
                highlighted: page.selection[path] !== undefined
                down: ListView.isCurrentItem
                Accessible.name: name
                Accessible.description: browser.searchText !== "" ? archiveName + ": /" + path : ""
                // An assistive "press" opens a folder and selects a file, as Enter and a click do.
                Accessible.onPressAction: {
                    list.currentIndex = index
                    if (kind === "folder" && browser.searchText === "")
                        browser.activate(index)
                    else
                        page.select(index, 0)
                }
                contentItem: RowLayout {
                    spacing: 8
                    // The icon theme's icon; a plain sign where no theme is installed.
                    IconImage {
                        id: themeIcon
                        name: row.iconName
                        sourceSize.width: 20
                        sourceSize.height: 20
                        Layout.preferredWidth: 20
                        Layout.preferredHeight: 20
                        visible: status === Image.Ready
                    }
                    Label {
                        text: row.kind === "folder" ? "▸" : row.kind === "link" ? "↪" : "·"
                        visible: !themeIcon.visible
                        horizontalAlignment: Text.AlignHCenter
                        Layout.preferredWidth: 20
                    }
                    Label {
                        Layout.fillWidth: true
                        text: browser.searchText !== "" ? row.archiveName + "  /" + row.path : row.name
                        elide: Text.ElideMiddle
                        font.bold: row.kind === "folder"
                    }
                    Label {
                        Layout.preferredWidth: 100
                        horizontalAlignment: Text.AlignRight
                        text: row.sizeText
                        opacity: 0.8
                    }
                    Label {
                        Layout.preferredWidth: 170
                        text: row.modified
                        font.family: "monospace"
                        opacity: 0.7
                    }
                }
                onClicked: {
                    list.forceActiveFocus()
                    list.currentIndex = index
                    page.select(index, mouseModifiers.modifiers)
                }
                onDoubleClicked: {
                    if (kind === "folder" || browser.searchText !== "")
                        browser.activate(index)
                    else
                        browser.openWith(index)
                }
                // ItemDelegate's clicked carries no modifiers: a MouseArea that lets clicks through reads them.
                MouseArea {
                    id: mouseModifiers
                    property int modifiers: 0
                    anchors.fill: parent
                    acceptedButtons: Qt.LeftButton
                    onPressed: mouse => { modifiers = mouse.modifiers; mouse.accepted = false }
                }
            }

            Label {
                anchors.centerIn: parent
                visible: list.count === 0 && !browser.busy && browser.errorText === ""
                text: browser.searchText !== "" ? qsTr("No names contain “%1”.").arg(browser.searchText)
                    : browser.archive === "" ? qsTr("Pick a repository on the Archives tab.") : qsTr("This folder is empty.")
                opacity: 0.7
            }
        }

        // Status: indexing progress, search counts, the selection and what to do with it.
        RowLayout {
            Layout.fillWidth: true
            Layout.margins: 6
            BusyIndicator { running: browser.busy; visible: running; implicitWidth: 22; implicitHeight: 22 }
            ProgressBar {
                visible: browser.indexProgress >= 0
                from: 0; to: 1
                value: browser.indexProgress
                Layout.preferredWidth: 160
                Accessible.name: qsTr("Indexing progress")
            }
            Label {
                Layout.fillWidth: true
                text: browser.statusText !== "" ? browser.statusText
                    : page.selectionCount > 0 ? qsTr("%1 selected").arg(page.selectionCount)
                    : qsTr("%1 items").arg(list.count)
                elide: Text.ElideRight
                opacity: 0.8
                Accessible.name: text
            }
            Button {
                text: qsTr("Restore to…")
                icon.name: "folder-open"
                enabled: page.selectionCount > 0 || list.currentIndex >= 0
                Accessible.name: qsTr("Restore to a folder")
                Accessible.onPressAction: clicked()
                onClicked: page.restore("into")
            }
            Button {
                text: qsTr("Restore")
                icon.name: "document-revert"
                enabled: page.selectionCount > 0 || list.currentIndex >= 0
                Accessible.name: qsTr("Restore to original location")
                Accessible.onPressAction: clicked()
                onClicked: page.restore("original")
            }
        }
    }

    ColumnLayout {
        SplitView.preferredWidth: 360
        SplitView.minimumWidth: 240
        spacing: 0
        PreviewPane {
            Layout.fillWidth: true
            Layout.fillHeight: true
            preview: entryPreview
            onOpenRequested: browser.openWith(list.currentIndex)
            onVersionsRequested: page.showVersions()
        }
        FolderSizeChart {
            Layout.fillWidth: true
            Layout.margins: 10
            bars: folderSizes.bars
            total: folderSizes.total
            visible: browser.searchText === ""
        }
    }
}
