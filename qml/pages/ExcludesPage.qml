import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell
import "../components"

// What gets backed up: the config's exclude rules, edited as a list, with a live preview of
// borg's own answer for every path (computed by Kastell, before any backup runs).
Pane {
    id: page
    property string configPath: ""
    onConfigPathChanged: if (configPath !== "") rules.load(configPath)

    ExcludeRules {
        id: rules
        onRevisionChanged: refreshTimer.restart()
    }
    ExcludePreview { id: preview }

    Timer {
        id: refreshTimer
        interval: 500
        onTriggered: if (page.configPath !== "") preview.refresh(page.configPath, rules.editedText())
    }
    Timer {
        id: draftTimer
        interval: 250
        onTriggered: preview.setDraft(newKind.currentValue, newStyle.currentValue, newPattern.text)
    }

    readonly property var kinds: [
        { value: "!", label: qsTr("Leave out") },
        { value: "-", label: qsTr("Leave out, look inside") },
        { value: "+", label: qsTr("Include") }
    ]
    readonly property var styles: [
        { value: "", label: qsTr("default") }, { value: "fm", label: "fm" }, { value: "sh", label: "sh" },
        { value: "re", label: "re" }, { value: "pp", label: "pp" }, { value: "pf", label: "pf" }
    ]

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        RowLayout {
            Layout.fillWidth: true
            Label {
                text: qsTr("What gets backed up")
                font.bold: true
                font.pixelSize: 15
            }
            Label {
                Layout.fillWidth: true
                elide: Text.ElideRight
                text: rules.statusText
                color: rules.statusText.startsWith(qsTr("Saved")) ? palette.text : "#c62828"
            }
            Button {
                text: qsTr("Revert")
                enabled: rules.modified
                Accessible.name: text
                Accessible.onPressAction: clicked()
                onClicked: rules.revert()
            }
            Button {
                text: qsTr("Save")
                highlighted: true
                enabled: rules.modified && !rules.hasErrors
                Accessible.name: qsTr("Save exclude rules")
                Accessible.onPressAction: clicked()
                onClicked: rules.save()
                ToolTip.visible: hovered && rules.hasErrors
                ToolTip.text: qsTr("A rule has an error: borg would refuse the whole backup")
            }
        }

        SplitView {
            Layout.fillWidth: true
            Layout.fillHeight: true

            ColumnLayout {
                SplitView.preferredWidth: page.width * 0.5
                SplitView.minimumWidth: 360
                spacing: 6

                GroupBox {
                    title: qsTr("Leave out automatically")
                    Layout.fillWidth: true
                    ColumnLayout {
                        CheckBox {
                            text: qsTr("Cache folders (a CACHEDIR.TAG inside)")
                            checked: rules.excludeCaches
                            Accessible.name: text
                            onToggled: rules.setSwitch("caches", checked)
                        }
                        CheckBox {
                            text: qsTr("Folders holding a .nobackup file")
                            checked: rules.excludeNobackup
                            Accessible.name: text
                            onToggled: rules.setSwitch("nobackup", checked)
                        }
                        CheckBox {
                            text: qsTr("Other filesystems (stay on the one each source is on)")
                            checked: rules.oneFileSystem
                            Accessible.name: text
                            onToggled: rules.setSwitch("one_file_system", checked)
                        }
                    }
                }

                GroupBox {
                    title: qsTr("Presets")
                    Layout.fillWidth: true
                    Flow {
                        anchors.left: parent.left
                        anchors.right: parent.right
                        spacing: 4
                        Repeater {
                            model: rules.presets
                            CheckBox {
                                text: modelData.name
                                checked: modelData.enabled
                                Accessible.name: qsTr("Preset %1").arg(modelData.name)
                                onToggled: rules.setPreset(modelData.id, checked)
                                ToolTip.visible: hovered
                                ToolTip.text: modelData.description + "\n" + modelData.patterns
                            }
                        }
                    }
                }

                Label {
                    text: qsTr("Rules (the first that matches a path decides)")
                    font.bold: true
                }
                ListView {
                    id: ruleList
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    clip: true
                    model: rules
                    Accessible.name: qsTr("Exclude rules")
                    delegate: ExcludeRuleRow {
                        ruleModel: rules
                        onMoveRequested: (from, to) => rules.moveRule(from, to)
                    }
                    ScrollBar.vertical: ScrollBar {}
                }

                GroupBox {
                    title: qsTr("Add a rule")
                    Layout.fillWidth: true
                    ColumnLayout {
                        anchors.left: parent.left
                        anchors.right: parent.right
                        RowLayout {
                            Layout.fillWidth: true
                            ComboBox {
                                id: newKind
                                model: page.kinds
                                textRole: "label"
                                valueRole: "value"
                                Layout.preferredWidth: 170
                                Accessible.name: qsTr("What the new rule does")
                                onActivated: draftTimer.restart()
                            }
                            ComboBox {
                                id: newStyle
                                model: page.styles
                                textRole: "label"
                                valueRole: "value"
                                Layout.preferredWidth: 90
                                Accessible.name: qsTr("Style of the new rule")
                                onActivated: draftTimer.restart()
                            }
                            TextField {
                                id: newPattern
                                Layout.fillWidth: true
                                font.family: "monospace"
                                placeholderText: qsTr("e.g. **/node_modules or ~/Videos")
                                Accessible.name: qsTr("New pattern")
                                onTextChanged: draftTimer.restart()
                                onAccepted: addButton.clicked()
                            }
                            Button {
                                id: addButton
                                text: qsTr("Add")
                                enabled: newPattern.text.trim() !== "" && draftError.text === ""
                                Accessible.name: qsTr("Add rule")
                                Accessible.onPressAction: clicked()
                                onClicked: {
                                    const at = rules.addRule(newKind.currentValue, newStyle.currentValue, newPattern.text)
                                    newPattern.text = ""
                                    ruleList.positionViewAtIndex(at, ListView.Contain)
                                }
                            }
                        }
                        Label {
                            id: draftError
                            visible: text !== ""
                            color: "#c62828"
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            text: rules.checkDraft(newKind.currentValue, newStyle.currentValue, newPattern.text)
                        }
                        Label {
                            visible: draftError.text === "" && newPattern.text !== "" && preview.draftText !== ""
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            text: preview.draftText
                            Accessible.name: text
                        }
                    }
                }
            }

            ColumnLayout {
                SplitView.fillWidth: true
                spacing: 6

                RowLayout {
                    Layout.fillWidth: true
                    BusyIndicator {
                        running: preview.busy
                        visible: running
                        Layout.preferredHeight: 24
                        Layout.preferredWidth: 24
                    }
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        font.bold: true
                        text: preview.errorText !== "" ? preview.errorText
                            : preview.busy ? qsTr("Looking at %1 paths…").arg(preview.scanned.toLocaleString(Qt.locale(), "f", 0))
                            : preview.totalsText
                        color: preview.errorText !== "" ? "#c62828" : palette.text
                        Accessible.name: text
                    }
                    Button {
                        text: preview.busy ? qsTr("Stop") : qsTr("Look again")
                        Accessible.name: text
                        Accessible.onPressAction: clicked()
                        onClicked: preview.busy ? preview.cancel() : refreshTimer.restart()
                    }
                }

                GridLayout {
                    columns: 3
                    columnSpacing: 12
                    rowSpacing: 0
                    Layout.fillWidth: true
                    Repeater {
                        model: preview.rules
                        delegate: Label {
                            Layout.row: index
                            Layout.column: 0
                            text: modelData.size
                            horizontalAlignment: Text.AlignRight
                            Layout.preferredWidth: 80
                        }
                    }
                    Repeater {
                        model: preview.rules
                        delegate: Label {
                            Layout.row: index
                            Layout.column: 1
                            text: qsTr("%n item(s)", "", modelData.entries)
                            opacity: 0.7
                        }
                    }
                    Repeater {
                        model: preview.rules
                        delegate: Label {
                            Layout.row: index
                            Layout.column: 2
                            Layout.fillWidth: true
                            elide: Text.ElideRight
                            font.family: "monospace"
                            text: modelData.reason
                        }
                    }
                }

                Frame {
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    padding: 0
                    ListView {
                        id: tree
                        anchors.fill: parent
                        clip: true
                        model: preview
                        Accessible.name: qsTr("Preview of the sources")
                        delegate: PreviewTreeRow { previewModel: preview }
                        ScrollBar.vertical: ScrollBar {}
                    }
                }
            }
        }
    }
}
