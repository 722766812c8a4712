export { main, COMMANDS, type Io } from './main.js';
export { defaultImage, AVAILABLE_MODULES } from './image.js';
export { dmaTestModule, dmaTestRun, dmaTestChannel, type DmaTestResult } from './drivers/dma-test.js';

// Kconfig model
export { kconfigRules, KCONFIG_RULES, FOREIGN_SYMBOLS, type KconfigRules, type KconfigRulesName, type KconfigSymbol, type KconfigType } from './kconfig/symbols.js';
export { parseConfigText, mergeConfigs, assignmentText, type ConfigAssignment, type ParsedConfig } from './kconfig/parse.js';
export { resolveConfig, type ResolvedConfig, type ResolvedSymbol, type ValueOrigin } from './kconfig/resolve.js';
export { writeDotConfig } from './kconfig/write.js';
export { formatDiagnostic, hasErrors, type Diagnostic } from './kconfig/diagnostics.js';
export { parseExpr, evalExpr, printExpr, type Expr, type Tristate } from './kconfig/expr.js';
export { GKI_BASE_CONFIG, GKI_BASE_NAME } from './config/gki-base.js';
export { defaultFragment } from './config/default.js';

// composition
export {
  KBUILD_MODULES,
  MODULE_PACKAGES,
  makeCatalogue,
  defaultCatalogue,
  packageVersion,
  type KbuildModule,
  type ModulePackage,
  type Catalogue,
  type CatalogueEntry,
  type BuildOptions,
} from './compose/catalogue.js';
export {
  composeImage,
  planImage,
  resolveInputs,
  loadOrder,
  type ComposeInput,
  type ComposeResult,
  type ConfigSource,
  type ImagePlan,
  type PlannedModule,
  type RulesDifference,
} from './compose/compose.js';
export { gkiBase, defaultConfig, composeDefault, readConfigFile, InputError, DEFAULT_CONFIG_NAME } from './compose/inputs.js';
export {
  imageFiles,
  writeImageDir,
  readImageDir,
  checkImageDirTarget,
  ImageDirError,
  IMAGE_FORMAT,
  type ImageDir,
  type ImageFiles,
  type ImageManifest,
  type ManifestModule,
} from './compose/image-dir.js';
export { coreExports, vmlinuxSymvers, kmiUsage, abiSymbolList, type CoreExport } from './compose/kmi.js';

// running an image: boards, boot with a device table, workloads, the report, the shell
export { loadBoard, loadImage, type LoadedBoard, type LoadedImage, type LoadBoardOptions } from './runtime/inputs.js';
export { bootSystem, deviceTable, formatDeviceTable, shutdown, type System, type DeviceRow, type ShutdownResult, type BootSettings } from './runtime/system.js';
export { runDma, runGpu, runStress, WORKLOADS, type WorkloadName, type WorkloadResult, type FaultRecord } from './runtime/workloads.js';
export { buildReport, formatReport, RUN_REPORT_SCHEMA, type RunReport } from './runtime/report.js';
export { tlbCounters, type TlbCounter } from './runtime/counters.js';
export { ShellSession, type ShellResult } from './runtime/shell.js';
