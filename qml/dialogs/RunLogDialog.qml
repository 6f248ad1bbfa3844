import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A run's full log: borgmatic's and borg's messages in order.
Dialog {
    id: dialog
    property string logText: ""
    property int runId: 0
    title: qsTr("Log of run %1").arg(runId)
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(parent ? parent.width - 40 : 900, 900)
    height: Math.min(parent ? parent.height - 40 : 600, 600)
    parent: Overlay.overlay
    anchors.centerIn: parent

    ScrollView {
        anchors.fill: parent
        TextArea {
            readOnly: true
            text: dialog.logText
            font.family: "monospace"
            wrapMode: TextEdit.NoWrap
            selectByMouse: true
            Accessible.name: qsTr("Run log")
        }
    }
}
