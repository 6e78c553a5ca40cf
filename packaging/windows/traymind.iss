; Inno Setup 6 script: Traymind's Windows installer, wrapping the PyInstaller bundle dist\traymind\.
;
;   python -m tools.build --bundle-only
;   iscc /DAppVersion=0.1.0 packaging\windows\traymind.iss   -> dist\traymind-0.1.0-windows-x64-setup.exe
;
; NOT VERIFIED: written for the Windows job of .github/workflows/installers.yml; it has never
; run on the Linux machine Traymind is developed on. See docs/packaging.md.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
; The AppId identifies the app for upgrades and uninstall: never change it.
AppId={{6B1C8E2A-5F3D-4C7E-9A41-2D8F0B7C3E95}
AppName=Traymind
AppVersion={#AppVersion}
AppVerName=Traymind {#AppVersion}
AppPublisher=Traymind
; Per-user install by default (no administrator prompt); an administrator may choose all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\Traymind
DefaultGroupName=Traymind
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=traymind-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\traymind.exe
; A running Traymind holds its files open: ask it to close before upgrading or uninstalling.
CloseApplications=yes

[Files]
; traymind.exe (the tray, no console window) and traymind-cli.exe (`traymind-cli serve` in a terminal).
Source: "..\..\dist\traymind\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Traymind"; Filename: "{app}\traymind.exe"; Comment: "Your AI agents in the system tray"

[Run]
Filename: "{app}\traymind.exe"; Description: "Start Traymind"; Flags: nowait postinstall skipifsilent
