import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Microsoft's Bicep compiler, for `npm run infra:build`, the drift check and test/infra: where it is, how it
 * gets there, and how its command-line output is read.
 *
 * On the project's machines (and CI) the compiler is the NuGet package `Azure.Bicep.CommandLine.linux-x64`
 * (a self-contained binary at `tools/bicep` inside the package), pinned in infra/tools/bicep.csproj and
 * fetched by `dotnet restore` of that restore-only project into the NuGet global packages folder. Where
 * there is no .NET SDK (a user's laptop), a `bicep` on PATH is used, or the one the Azure CLI
 * (`az bicep install`, ~/.azure/bin) or azd (~/.azd/bin) installed.
 */

/** The restore-only project that pins the compiler, relative to the project root. */
export const TOOLS_PROJECT = 'infra/tools/bicep.csproj';

/** The NuGet package that holds the compiler for Linux x64, and the binary's path inside it. */
const PACKAGE = 'Azure.Bicep.CommandLine.linux-x64';
const BINARY_IN_PACKAGE = join('tools', 'bicep');

/** A compiler found on this machine. */
export interface Bicep {
  /** Absolute path of the executable. */
  readonly path: string;
  /** What `bicep --version` says, e.g. `0.49.2`. */
  readonly version: string;
  /** Where it came from, for the log: `NuGet package … (pinned)`, `PATH`, `~/.azure/bin`. */
  readonly origin: string;
}

/** Thrown when no compiler can be found or restored; the message says how to get one. */
export class BicepNotFoundError extends Error {}

/**
 * The version pinned in infra/tools/bicep.csproj (`<PackageDownload … Version="[x.y.z]" />`).
 * @throws Error when the file or the pin is missing.
 */
export function pinnedBicepVersion(root: string): string {
  const text = readFileSync(join(root, TOOLS_PROJECT), 'utf8');
  const m = new RegExp(`<PackageDownload\\s+Include="${PACKAGE.replace(/\./g, '\\.')}"\\s+Version="\\[([0-9.]+)\\]"`).exec(text);
  if (!m?.[1]) throw new Error(`${TOOLS_PROJECT}: no <PackageDownload Include="${PACKAGE}" Version="[x.y.z]" />`);
  return m[1];
}

/** The NuGet global packages folder: `NUGET_PACKAGES`, else ~/.nuget/packages (NuGet's default). */
function nugetPackages(): string {
  return process.env.NUGET_PACKAGES || join(homedir(), '.nuget', 'packages');
}

/** Where the restore puts the binary of `version`. */
function packagedBinary(version: string): string {
  return join(nugetPackages(), PACKAGE.toLowerCase(), version, BINARY_IN_PACKAGE);
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `bicep --version` → `0.49.2`; undefined when it does not run. */
function versionOf(path: string): string | undefined {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return /Bicep CLI version ([0-9][0-9.]*)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
}

/** The environment of a `dotnet` command: no telemetry, no first-run banner. */
const DOTNET_ENV = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1' };

/** How a user without the .NET SDK gets a compiler (the message of {@link BicepNotFoundError}). */
export const HOW_TO_GET_BICEP = 'Install the .NET SDK (then `npm run infra:build` restores the pinned compiler from NuGet), '
  + 'or put a Bicep CLI on PATH: `az bicep install` (installs ~/.azure/bin/bicep) or azd\'s own (~/.azd/bin/bicep, installed by `azd provision`).';

export interface FindOptions {
  /** Run `dotnet restore` of {@link TOOLS_PROJECT} when the pinned package is missing (default true). */
  readonly restore?: boolean;
  /** Progress lines (the restore, a fallback to another compiler). */
  readonly log?: (line: string) => void;
}

/**
 * Finds the Bicep compiler: the pinned NuGet package (restored with `dotnet restore` of
 * infra/tools/bicep.csproj when missing and a .NET SDK is there; its exec bit set if the package lost it),
 * else a `bicep` on PATH, else ~/.azure/bin/bicep or ~/.azd/bin/bicep. A compiler other than the pinned
 * package is logged with its version (it may differ from the pinned one).
 * @throws BicepNotFoundError with {@link HOW_TO_GET_BICEP} when there is none; Error when a restore fails.
 */
export function findBicep(root: string, options: FindOptions = {}): Bicep {
  const log = options.log ?? (() => undefined);
  const pinned = pinnedBicepVersion(root);
  const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
  const packaged = packagedBinary(pinned);
  const dotnet = onPath('dotnet');
  if (linuxX64 && !existsSync(packaged) && dotnet && options.restore !== false) {
    log(`restoring ${PACKAGE} ${pinned} (dotnet restore ${TOOLS_PROJECT})`);
    const r = spawnSync(dotnet, ['restore', join(root, TOOLS_PROJECT), '--verbosity', 'quiet'], { encoding: 'utf8', env: DOTNET_ENV, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`dotnet restore ${TOOLS_PROJECT} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    if (!existsSync(packaged)) throw new Error(`dotnet restore ${TOOLS_PROJECT} succeeded but ${packaged} is missing (is NUGET_PACKAGES set differently for dotnet?)`);
  }
  if (linuxX64 && existsSync(packaged)) {
    // Packages are extracted as the archive says; a binary that lost its exec bit is given it back.
    if ((statSync(packaged).mode & 0o100) === 0) chmodSync(packaged, statSync(packaged).mode | 0o755);
    // The package's folder is its version (NuGet's layout): no `bicep --version` start (about 0.5 s) needed.
    return { path: packaged, version: pinned, origin: `NuGet package ${PACKAGE} ${pinned} (pinned in ${TOOLS_PROJECT})` };
  }
  const why = !linuxX64 ? `the pinned package is for Linux x64, this is ${process.platform}-${process.arch}` : dotnet ? 'restore skipped' : 'no .NET SDK (dotnet) on PATH';
  const candidates: Array<[string | undefined, string]> = [
    [onPath('bicep'), 'PATH'],
    [join(homedir(), '.azure', 'bin', 'bicep'), '~/.azure/bin (az bicep install)'],
    [join(homedir(), '.azd', 'bin', 'bicep'), '~/.azd/bin (azd)'],
  ];
  for (const [path, origin] of candidates) {
    if (!path || !existsSync(path)) continue;
    const version = versionOf(path);
    if (!version) continue;
    const hint = version === pinned ? '' : ` (the project pins ${pinned}, which \`az bicep install --version v${pinned}\` installs; results may differ)`;
    log(`${why}: using bicep ${version} from ${origin}${hint}`);
    return { path, version, origin };
  }
  throw new BicepNotFoundError(`No Bicep compiler: ${why}, and no bicep on PATH, in ~/.azure/bin or in ~/.azd/bin. ${HOW_TO_GET_BICEP}`);
}

/** One diagnostic of the compiler or its linter. */
export interface Diagnostic {
  /** The file, as the compiler printed it (absolute). */
  readonly file: string;
  /** 1-based line and column. */
  readonly line: number;
  readonly column: number;
  readonly level: 'Error' | 'Warning' | 'Info';
  /** `BCP057`, `no-unused-vars`, … */
  readonly code: string;
  readonly message: string;
}

const DIAGNOSTIC = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([^:\s]+): (.*)$/;

/**
 * Reads the diagnostics of `bicep build` / `bicep lint` in their default format, one a line:
 * `/abs/file.bicep(12,5) : Warning no-unused-vars: Variable "x" is declared but never used. [https://aka.ms/…]`.
 * @returns the diagnostics, and the lines that are not diagnostics (anything else the compiler said).
 */
export function parseDiagnostics(text: string): { diagnostics: Diagnostic[]; other: string[] } {
  const diagnostics: Diagnostic[] = [];
  const other: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const m = DIAGNOSTIC.exec(line);
    if (!m) {
      other.push(line);
      continue;
    }
    diagnostics.push({ file: m[1]!, line: Number(m[2]), column: Number(m[3]), level: m[4] as Diagnostic['level'], code: m[5]!, message: m[6]! });
  }
  return { diagnostics, other };
}

/** The outcome of one run of the command-line compiler. */
export interface BicepRun {
  /** Exit code (`bicep build` and `bicep lint` exit 1 on an error, 0 with warnings only). */
  readonly code: number | null;
  readonly diagnostics: Diagnostic[];
  /** stdout and the stderr lines that are not diagnostics. */
  readonly output: string;
}

/**
 * Runs the command-line compiler (`build …`, `lint …`) in `cwd` (relative paths in `args` are from there) and
 * reads its diagnostics from stderr; waits at most 10 minutes.
 * @throws Error when the binary cannot be started.
 */
export function runBicep(bicep: Bicep, args: readonly string[], cwd: string): BicepRun {
  const r = spawnSync(bicep.path, [...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  if (r.error) throw r.error;
  const { diagnostics, other } = parseDiagnostics(r.stderr);
  return { code: r.status, diagnostics, output: [r.stdout.trim(), ...other].filter(Boolean).join('\n') };
}
