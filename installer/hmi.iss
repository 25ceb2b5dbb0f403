; Inno Setup script for Windows: packages the PyInstaller folder build (dist\hmi).
[Setup]
AppName=HMI
AppVersion=0.1.0
DefaultDirName={autopf}\HMI
DefaultGroupName=HMI
OutputBaseFilename=hmi-setup
Compression=lzma2
SolidCompression=yes

[Files]
Source: "..\dist\hmi\*"; DestDir: "{app}"; Flags: recursesubdirs

[Icons]
Name: "{group}\HMI"; Filename: "{app}\hmi.exe"; Parameters: "run --config ""{commonappdata}\HMI\site.toml"""
