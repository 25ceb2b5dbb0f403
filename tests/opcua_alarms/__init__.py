"""The node-opcua alarm server (OPC UA Part 9) the condition tests run against."""
