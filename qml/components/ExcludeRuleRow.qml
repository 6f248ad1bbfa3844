import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// One rule of the exclude editor: what it does, its style, its pattern (with borg's error
// inline), a handle to drag it (first match wins, so order is meaning) and a remove button.
Item {
    id: row
    property var ruleModel
    property int rowIndex: index
    signal moveRequested(int from, int to)
    width: ListView.view ? ListView.view.width : 400
    height: column.implicitHeight + 6

    readonly property var kinds: [
        { value: "!", label: qsTr("Leave out") },
        { value: "-", label: qsTr("Leave out, look inside") },
        { value: "+", label: qsTr("Include") }
    ]
    readonly property var styles: ["", "fm", "sh", "re", "pp", "pf"]

    Rectangle {
        anchors.fill: parent
        color: dragArea.drag.active ? palette.highlight : (row.rowIndex % 2 ? palette.alternateBase : palette.base)
        opacity: dragArea.drag.active ? 0.3 : 1
    }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.verticalCenter: parent.verticalCenter
        spacing: 2

        RowLayout {
            Layout.fillWidth: true
            spacing: 4

            Label {
                id: handle
                text: "⠿"
                font.pixelSize: 18
                Layout.preferredWidth: 20
                horizontalAlignment: Text.AlignHCenter
                Accessible.name: qsTr("Drag to reorder rule %1").arg(row.rowIndex + 1)
                MouseArea {
                    id: dragArea
                    anchors.fill: parent
                    cursorShape: Qt.SizeVerCursor
                    property real startY: 0
                    onPressed: mouse => startY = mapToItem(row.ListView.view, mouse.x, mouse.y).y
                    onReleased: mouse => {
                        const y = mapToItem(row.ListView.view, mouse.x, mouse.y).y
                        const steps = Math.round((y - startY) / row.height)
                        if (steps !== 0)
                            row.moveRequested(row.rowIndex, Math.max(0, Math.min(row.ListView.view.count - 1, row.rowIndex + steps)))
                    }
                }
            }

            Label {
                visible: model.fixed
                text: model.kind === "R" ? qsTr("Root") : qsTr("Default style")
                Layout.preferredWidth: 170
            }
            ComboBox {
                visible: !model.fixed
                Layout.preferredWidth: 170
                model: row.kinds
                textRole: "label"
                valueRole: "value"
                currentIndex: row.kinds.findIndex(k => k.value === kindHolder.kind)
                Accessible.name: qsTr("What rule %1 does").arg(row.rowIndex + 1)
                onActivated: i => row.ruleModel.setRuleKind(row.rowIndex, row.kinds[i].value)
            }
            ComboBox {
                visible: !model.fixed
                Layout.preferredWidth: 76
                model: row.styles.map(s => s === "" ? qsTr("default") : s)
                currentIndex: row.styles.indexOf(kindHolder.style)
                Accessible.name: qsTr("Style of rule %1").arg(row.rowIndex + 1)
                ToolTip.visible: hovered
                ToolTip.text: qsTr("fm: * crosses folders · sh: * stays in a folder, **/ spans folders · re: regular expression · pp: path prefix · pf: exact path")
                onActivated: i => row.ruleModel.setRuleStyle(row.rowIndex, row.styles[i])
            }
            TextField {
                id: patternField
                Layout.fillWidth: true
                text: model.text
                readOnly: model.fixed
                font.family: "monospace"
                Accessible.name: qsTr("Pattern of rule %1").arg(row.rowIndex + 1)
                color: model.error !== "" ? "#c62828" : palette.text
                onEditingFinished: if (text !== model.text) row.ruleModel.setRuleText(row.rowIndex, text)
            }
            ToolButton {
                icon.name: "edit-delete-remove"
                text: "✕"
                display: AbstractButton.TextOnly
                Accessible.name: qsTr("Remove rule %1").arg(row.rowIndex + 1)
                Accessible.onPressAction: clicked()
                onClicked: row.ruleModel.removeRule(row.rowIndex)
            }
        }
        Label {
            visible: model.error !== ""
            Layout.leftMargin: 24
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: "#c62828"
            text: model.errorOffset >= 0
                ? qsTr("%1 (at character %2 of “%3”)").arg(model.error).arg(model.errorOffset + 1).arg(model.entry)
                : model.error
        }
        Label {
            visible: model.list === "patterns" && !model.fixed
            Layout.leftMargin: 24
            font.pixelSize: 11
            opacity: 0.6
            text: qsTr("kept in patterns: as “%1”").arg(model.entry)
        }
    }

    // The model's roles, under names the combo boxes cannot shadow.
    QtObject {
        id: kindHolder
        property string kind: model.kind
        property string style: model.style
    }
}
