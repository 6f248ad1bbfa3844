import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import org.kde.kastell

// A backup server over SSH, as the first run and the recovery both reach it: Kastell's own
// key and the line for the server's authorized_keys, the host key confirmed by its
// fingerprint (never accepted silently), and a test that says what is wrong.
ColumnLayout {
    id: form
    // The SetupWizard that does the work.
    required property var wizard
    spacing: 8

    function port() { return parseInt(sshPortField.text) || 22 }
    function location() { return wizard.sshLocation(sshUser.text, sshHost.text, port(), sshPath.text) }

    GridLayout {
        columns: 4
        Label { text: qsTr("User") }
        TextField { id: sshUser; Accessible.name: qsTr("Server user"); Layout.preferredWidth: 140 }
        Label { text: qsTr("Host") }
        TextField { id: sshHost; Accessible.name: qsTr("Server host"); Layout.fillWidth: true }
        Label { text: qsTr("Port") }
        TextField { id: sshPortField; text: "22"; Accessible.name: qsTr("Server port"); Layout.preferredWidth: 80 }
        Label { text: qsTr("Path") }
        TextField { id: sshPath; Accessible.name: qsTr("Path on the server"); Layout.fillWidth: true }
    }
    RowLayout {
        Button {
            text: qsTr("Prepare the key")
            enabled: sshHost.text !== "" && sshPath.text !== "" && !form.wizard.busy
            Accessible.name: text
            Accessible.onPressAction: clicked()
            onClicked: form.wizard.prepareSsh(sshUser.text, sshHost.text, form.port(), sshPath.text)
        }
        Button {
            text: qsTr("Trust this server")
            enabled: form.wizard.fingerprint !== "" && !form.wizard.busy
            Accessible.name: text
            Accessible.onPressAction: clicked()
            onClicked: form.wizard.trustHost(sshHost.text, form.port())
        }
        Button {
            text: qsTr("Test the connection")
            enabled: form.wizard.authorizedLine !== "" && !form.wizard.busy
            Accessible.name: text
            Accessible.onPressAction: clicked()
            onClicked: form.wizard.testSsh(sshUser.text, sshHost.text, form.port(), sshPath.text)
        }
    }
    Label {
        visible: form.wizard.authorizedLine !== ""
        text: qsTr("Add this line to the server's ~/.ssh/authorized_keys (it lets the key run borg, only below the path):")
    }
    RowLayout {
        visible: form.wizard.authorizedLine !== ""
        Layout.fillWidth: true
        TextField {
            id: authorizedField
            Layout.fillWidth: true
            readOnly: true
            text: form.wizard.authorizedLine
            Accessible.name: qsTr("Line for authorized_keys")
        }
        Button {
            text: qsTr("Copy")
            Accessible.name: qsTr("Copy the line")
            Accessible.onPressAction: clicked()
            onClicked: { authorizedField.selectAll(); authorizedField.copy(); authorizedField.deselect() }
        }
    }
    Label {
        visible: form.wizard.fingerprint !== ""
        Layout.fillWidth: true
        wrapMode: Text.WordWrap
        text: qsTr("The server's host key is %1. Compare it with what the server's owner sees (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before trusting it.").arg(form.wizard.fingerprint)
        Accessible.name: text
    }
    Label {
        visible: form.wizard.sshStatus !== ""
        Layout.fillWidth: true
        wrapMode: Text.WordWrap
        text: form.wizard.sshStatus
        color: form.wizard.sshOk ? "#2e7d32" : palette.text
        Accessible.name: text
    }
}
