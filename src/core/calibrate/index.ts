/** Calibration for static quantization: data loading, streaming range estimation, ORT runs. */
export { HOW_TO_PROVIDE, loadCalibrationData, modelInputs, fileNameForInput, batches, batchCount } from './data';
export type { CalibrationData, CalibrationInput, ModelInput } from './data';
export { Calibrator, TensorCalibrator } from './methods';
export type { RangeOptions, TensorRange } from './methods';
export { StreamingHistogram, histogramQuantile, entropyThreshold } from './histogram';
export { collectRanges, exposeTensors } from './run';
export type { CalibrationResult, CalibrationTarget, CollectOptions } from './run';
