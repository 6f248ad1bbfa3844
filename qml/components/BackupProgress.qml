import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// The running backup: which repository, the phase, borg's counters, the ETA and a Cancel
// button; after the run, its outcome with a way to its details.
Frame {
    id: frame
    required property var runner
    signal detailsRequested(int runId)
    visible: runner.running || runner.lastOutcome !== BackupRunner.None
    Accessible.name: qsTr("Backup progress")

    readonly property color outcomeColor: runner.lastOutcome === BackupRunner.Success ? "#2e7d32"
        : runner.lastOutcome === BackupRunner.Warning ? "#b26a00"
        : runner.lastOutcome === BackupRunner.Cancelled ? palette.text : "#c62828"

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                font.bold: true
                elide: Text.ElideRight
                text: frame.runner.running
                    ? qsTr("%1 · “%2” (%3 of %4)").arg(frame.runner.actions === "backup" ? qsTr("Backup") : frame.runner.actions)
                        .arg(frame.runner.repository).arg(frame.runner.repositoryIndex + 1).arg(Math.max(frame.runner.repositoryCount, 1))
                    : frame.runner.lastOutcome === BackupRunner.Success ? qsTr("Backup finished")
                    : frame.runner.lastOutcome === BackupRunner.Warning ? qsTr("Backup finished with warnings")
                    : frame.runner.lastOutcome === BackupRunner.Cancelled ? qsTr("Backup cancelled")
                    : qsTr("Backup failed")
                color: frame.runner.running ? palette.text : frame.outcomeColor
                Accessible.name: text
            }
            Button {
                visible: frame.runner.running
                enabled: !frame.runner.cancelling
                text: frame.runner.cancelling ? qsTr("Stopping…") : qsTr("Cancel")
                icon.name: "process-stop"
                Accessible.name: qsTr("Cancel backup")
                Accessible.onPressAction: clicked()
                onClicked: frame.runner.cancel()
            }
            Button {
                // Offered only when no live borg process holds the lock.
                visible: !frame.runner.running && frame.runner.breakableLock !== ""
                text: qsTr("Break the stale lock of “%1”").arg(frame.runner.breakableLock)
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: frame.runner.breakLock()
            }
            Button {
                visible: !frame.runner.running && frame.runner.lastRunId > 0
                text: qsTr("Details")
                Accessible.name: qsTr("Show run details")
                Accessible.onPressAction: clicked()
                onClicked: frame.detailsRequested(frame.runner.lastRunId)
            }
        }

        Label {
            visible: frame.runner.running
            text: frame.runner.phase + (frame.runner.eta !== "" ? " · " + qsTr("%1 left").arg(frame.runner.eta) : "")
            Accessible.name: qsTr("Phase: %1").arg(text)
        }

        ProgressBar {
            Layout.fillWidth: true
            visible: frame.runner.running
            from: 0
            to: 1
            indeterminate: frame.runner.fraction < 0
            value: frame.runner.fraction < 0 ? 0 : frame.runner.fraction
        }

        GridLayout {
            visible: frame.runner.running && frame.runner.files !== ""
            columns: 5
            columnSpacing: 18
            Label { text: qsTr("Files"); opacity: 0.7 }
            Label { text: qsTr("Read"); opacity: 0.7 }
            Label { text: qsTr("New data"); opacity: 0.7 }
            Label { text: qsTr("Speed"); opacity: 0.7 }
            Label { text: qsTr("Elapsed"); opacity: 0.7 }
            Label { text: frame.runner.files; font.bold: true; Accessible.name: qsTr("Files: %1").arg(text) }
            Label { text: frame.runner.originalSize; font.bold: true; Accessible.name: qsTr("Read: %1").arg(text) }
            Label { text: frame.runner.deduplicatedSize; font.bold: true; Accessible.name: qsTr("New data: %1").arg(text) }
            Label { text: frame.runner.throughput; font.bold: true }
            Label { text: frame.runner.elapsed; font.bold: true }
        }

        Label {
            Layout.fillWidth: true
            visible: frame.runner.running && frame.runner.currentPath !== ""
            text: frame.runner.currentPath
            elide: Text.ElideMiddle
            font.family: "monospace"
            opacity: 0.75
        }

        Label {
            Layout.fillWidth: true
            visible: !frame.runner.running && frame.runner.summary !== ""
            text: frame.runner.summary
            wrapMode: Text.Wrap
            Accessible.name: qsTr("Result: %1").arg(text)
        }
    }
}
