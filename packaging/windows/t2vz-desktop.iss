; Inno Setup 6 script: Windows installer for the PyInstaller bundle made by packaging/t2vz.spec.
;
;   pyinstaller --noconfirm --distpath dist packaging\t2vz.spec
;   iscc /DBundle=dist\t2vz /DFlavour=cpu /DAppVersion=0.3.0 packaging\windows\t2vz-desktop.iss
;
; Installs per user by default (no admin rights needed; "install for all users" is offered),
; adds a Start-menu entry, an optional desktop icon, the `t2vz` command line on the user's PATH
; (optional task), and opens .t2vz project files with t2vz-desktop. Uninstalling removes all of
; it, including the file association and the PATH entry; the user's projects and the Models
; folder (%LOCALAPPDATA%\t2vz\Models) are left alone.

#ifndef Bundle
  #define Bundle "..\..\dist\t2vz"
#endif
#ifndef AppVersion
  #define AppVersion "0.3.0"
#endif
#ifndef Flavour
  #define Flavour "cpu"
#endif

[Setup]
AppId={{6F3C2A8E-5B7D-4E21-9C0A-2D7E1B4F8A93}
AppName=t2vz-desktop
AppVersion={#AppVersion}
AppVerName=t2vz-desktop {#AppVersion} ({#Flavour})
AppPublisher=t2vz-desktop developers
DefaultDirName={autopf}\t2vz-desktop
DefaultGroupName=t2vz-desktop
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
ChangesEnvironment=yes
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
DiskSpanning=no
OutputDir=..\dist
OutputBaseFilename=t2vz-desktop-{#AppVersion}-windows-x64-{#Flavour}-setup
SetupIconFile=t2vz.ico
UninstallDisplayIcon={app}\t2vz-desktop.exe
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the t2vz command line to PATH"; GroupDescription: "Command line:"

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\t2vz-desktop"; Filename: "{app}\t2vz-desktop.exe"; Comment: "Make and edit videos with Text2Video-Zero"
Name: "{group}\Uninstall t2vz-desktop"; Filename: "{uninstallexe}"
Name: "{autodesktop}\t2vz-desktop"; Filename: "{app}\t2vz-desktop.exe"; Tasks: desktopicon

[Registry]
; .t2vz -> t2vz.Project -> "t2vz-desktop.exe" "%1" (HKCU for a per-user install, HKLM for all users)
Root: HKA; Subkey: "Software\Classes\.t2vz"; ValueType: string; ValueName: ""; ValueData: "t2vz.Project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.t2vz\OpenWithProgids"; ValueType: string; ValueName: "t2vz.Project"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\t2vz.Project"; ValueType: string; ValueName: ""; ValueData: "t2vz-desktop project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\t2vz.Project\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\t2vz-desktop.exe,0"
Root: HKA; Subkey: "Software\Classes\t2vz.Project\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\t2vz-desktop.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\t2vz-desktop.exe\SupportedTypes"; ValueType: string; ValueName: ".t2vz"; ValueData: ""; Flags: uninsdeletekey
; the command line on the user's PATH (removed again by the [Code] section on uninstall)
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\t2vz-desktop.exe"; Description: "{cm:LaunchProgram,t2vz-desktop}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Path, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  Dir := ExpandConstant('{app}');
  if RegQueryStringValue(HKCU, 'Environment', 'Path', Path) then
  begin
    P := Pos(';' + Uppercase(Dir), Uppercase(Path));
    if P > 0 then
    begin
      Delete(Path, P, Length(Dir) + 1);
      RegWriteExpandStringValue(HKCU, 'Environment', 'Path', Path);
    end;
  end;
end;
