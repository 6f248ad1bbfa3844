import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// An error in plain words, where it happened. Hidden when there is none.
Rectangle {
    id: banner
    property string text: ""
    visible: text !== ""
    implicitHeight: visible ? message.implicitHeight + 16 : 0
    radius: 4
    color: "#fdecea"
    border.color: "#e6a09a"
    Accessible.role: Accessible.AlertMessage
    Accessible.name: text

    Label {
        id: message
        anchors.fill: parent
        anchors.margins: 8
        text: banner.text
        color: "#8a1f11"
        wrapMode: Text.WordWrap
    }
}
