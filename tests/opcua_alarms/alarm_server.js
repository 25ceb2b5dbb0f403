#!/usr/bin/env node
// OPC UA Part 9 (Alarms & Conditions) server for hmi's tests: asyncua's server has none.
//
//   node alarm_server.js <port> [profile] [name=value ...]
//
// Listens on 127.0.0.1:<port> only (security None, anonymous) and prints "ready" once
// it does. The profile picks the conditions ("tank", the default, or "pump"); name=value
// sets an input variable before the first client comes, so an alarm can already be
// active. Commands on stdin, one a line, each answered "ok ..." or "error ...":
//   set <variable> <value>   a number, true or false: raises or clears the alarms on it
//   stop                     shut down and exit 0 (so does closing stdin)
"use strict";

const readline = require("readline");
const os = require("os");
const path = require("path");
const fs = require("fs");
const { OPCUAServer, DataType, StatusCodes, MessageSecurityMode, SecurityPolicy,
    OPCUACertificateManager } = require("node-opcua");

// severity of each limit state: the HMI maps >= 801 critical, >= 601 high, >= 401 medium
const LIMIT_SEVERITY = { HighHigh: 900, High: 700, Low: 500, LowLow: 850 };
const MAX_TIME_SHELVED_MS = 10_000;

function limitMessage(label, alarm) {
    return (stateName, _isActive, value) => {
        // back to normal, a condition stays retained until acknowledged and confirmed
        const branch = alarm.currentBranch();
        const retain = Boolean(stateName) ||
            !(branch.getAckedState() && branch.getConfirmedState());
        const message = stateName ? `${label} ${stateName} (${value})` : `${label} back to normal`;
        return { message, severity: stateName ? LIMIT_SEVERITY[stateName] ?? 500 : 0,
                 quality: StatusCodes.Good, retain };
    };
}

function addVariable(namespace, parent, name, dataType, value) {
    return namespace.addVariable({
        browseName: name,
        nodeId: `s=${name}`,
        componentOf: parent,
        eventSourceOf: parent,
        dataType,
        value: { dataType, value },
    });
}

function limitAlarm(namespace, parent, input, name, label, limits, optionals) {
    const alarm = namespace.instantiateExclusiveLimitAlarm("ExclusiveLimitAlarmType", {
        browseName: name,
        nodeId: `s=${name}`,
        componentOf: parent,
        conditionName: name,
        conditionSource: input,
        inputNode: input,
        optionals,
        maxTimeShelved: MAX_TIME_SHELVED_MS,
        ...limits,
    });
    alarm.calculateConditionInfo = limitMessage(label, alarm);
    // node-opcua leaves the shelving machine without a state, and TimedShelve then
    // answers BadConditionAlreadyShelved: start it as the spec does, Unshelved
    alarm.shelvingState.setState("Unshelved");
    // nor does it send a condition event when the shelving state changes (Part 9 says a
    // state change is an event): send one, so clients see the shelve without polling
    // (on the next turn: CurrentState's text changes before its Id does)
    alarm.shelvingState.currentState.on("value_changed", () => {
        setImmediate(() => alarm.raiseNewBranchState(alarm.currentBranch()));
    });
    return alarm;
}

const PROFILES = {
    tank(namespace, addressSpace, folder) {
        const tank = namespace.addObject({
            browseName: "Tank", nodeId: "s=Tank", organizedBy: folder,
            eventNotifier: 0x01, notifierOf: addressSpace.rootFolder.objects.server,
        });
        const level = addVariable(namespace, tank, "TankLevel", DataType.Double, 50.0);
        limitAlarm(namespace, tank, level, "TankLevelAlarm", "Tank level",
                   { highHighLimit: 90, highLimit: 80, lowLimit: 20, lowLowLimit: 10 },
                   ["ConfirmedState", "Confirm", "ShelvingState", "MaxTimeShelved"]);
        const door = addVariable(namespace, tank, "DoorOpen", DataType.Boolean, false);
        const normal = addVariable(namespace, tank, "DoorNormal", DataType.Boolean, false);
        const doorAlarm = namespace.instantiateOffNormalAlarm({
            browseName: "DoorAlarm", nodeId: "s=DoorAlarm", componentOf: tank,
            conditionName: "DoorAlarm", conditionSource: door, inputNode: door,
            normalState: normal,
        });
        doorAlarm.calculateConditionInfo = (stateName, isActive) => ({
            message: isActive ? "Tank door open" : "Tank door closed",
            severity: isActive ? 300 : 0, quality: StatusCodes.Good, retain: Boolean(isActive),
        });
    },
    pump(namespace, addressSpace, folder) {
        const pump = namespace.addObject({
            browseName: "Pump", nodeId: "s=Pump", organizedBy: folder,
            eventNotifier: 0x01, notifierOf: addressSpace.rootFolder.objects.server,
        });
        const pressure = addVariable(namespace, pump, "Pressure", DataType.Double, 5.0);
        limitAlarm(namespace, pump, pressure, "PressureAlarm", "Pump pressure",
                   { highHighLimit: 12, highLimit: 10, lowLimit: 1 },
                   ["ConfirmedState", "Confirm", "ShelvingState", "MaxTimeShelved"]);
    },
};

function parseValue(text) {
    if (text === "true" || text === "false") {
        return { dataType: DataType.Boolean, value: text === "true" };
    }
    const number = Number(text);
    if (text === "" || Number.isNaN(number)) {
        throw new Error(`not a number nor true/false: ${text}`);
    }
    return { dataType: DataType.Double, value: number };
}

function setVariable(namespace, name, text) {
    const node = namespace.findNode(`s=${name}`);
    if (!node || node.nodeClass !== 2 /* Variable */) {
        throw new Error(`no variable ${name}`);
    }
    node.setValueFromSource(parseValue(text));
}

async function main() {
    const [portText, profileArg, ...initial] = process.argv.slice(2);
    const port = Number(portText);
    const profile = profileArg && !profileArg.includes("=") ? profileArg : "tank";
    if (profileArg && profileArg.includes("=")) {
        initial.unshift(profileArg);
    }
    if (!Number.isInteger(port) || !PROFILES[profile]) {
        console.error("usage: node alarm_server.js <port> [tank|pump] [name=value ...]");
        process.exit(2);
    }
    // the server's own certificate store: a throwaway folder, never the user's home
    const pki = fs.mkdtempSync(path.join(os.tmpdir(), "hmi-alarm-server-pki-"));
    const serverCertificateManager = new OPCUACertificateManager({
        rootFolder: pki, automaticallyAcceptUnknownCertificate: true,
    });
    const server = new OPCUAServer({
        port,
        host: "127.0.0.1",
        hostname: "127.0.0.1",
        resourcePath: "/alarms",
        serverCertificateManager,
        securityModes: [MessageSecurityMode.None],
        securityPolicies: [SecurityPolicy.None],
        allowAnonymous: true,
        serverInfo: { applicationUri: "urn:hmi:test:alarm-server", productUri: "hmi-test" },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    addressSpace.installAlarmsAndConditionsService();
    const namespace = addressSpace.getOwnNamespace();
    PROFILES[profile](namespace, addressSpace, addressSpace.rootFolder.objects);
    for (const pair of initial) {
        const [name, value] = pair.split("=");
        setVariable(namespace, name, value);
    }
    await server.start();
    console.log(`ready ${server.getEndpointUrl()}`);

    let stopping = false;
    const stop = async () => {
        if (stopping) {
            return;
        }
        stopping = true;
        await server.shutdown(0);
        fs.rmSync(pki, { recursive: true, force: true });
        process.exit(0);
    };
    const lines = readline.createInterface({ input: process.stdin });
    lines.on("line", (line) => {
        const words = line.trim().split(/\s+/);
        try {
            if (words[0] === "set" && words.length === 3) {
                setVariable(namespace, words[1], words[2]);
                console.log(`ok ${line.trim()}`);
            } else if (words[0] === "stop") {
                console.log("ok stop");
                stop();
            } else if (words[0] !== "") {
                console.log(`error unknown command: ${line.trim()}`);
            }
        } catch (err) {
            console.log(`error ${err.message}`);
        }
    });
    lines.on("close", stop);
    process.on("SIGTERM", stop);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
