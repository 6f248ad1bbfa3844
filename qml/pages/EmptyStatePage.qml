import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Shown when no borgmatic config exists yet: says how to start.
Item {
    ColumnLayout {
        anchors.centerIn: parent
        width: Math.min(parent.width - 48, 560)
        spacing: 12

        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            text: qsTr("No backup is set up yet")
            font.pixelSize: 22
        }
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            text: qsTr("Kastell shows the borgmatic configurations in ~/.config/borgmatic/ and ~/.config/borgmatic.d/. None was found.")
        }
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            opacity: 0.8
            text: qsTr("To start now, create one with “borgmatic config generate --destination ~/.config/borgmatic/config.yaml”, or open an existing one with “kastell --config FILE”. Then press Refresh.")
        }
    }
}
