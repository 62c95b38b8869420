/** The routing core and the research built on it (baselines, metrics, evaluation): what bench/, the lab and tests import. */
export * from '../src/core/types';
export * from '../src/core/random';
export * from '../src/core/linalg';
export * from '../src/core/kmeans';
export * from '../src/core/uniroute';
export * from './learned-map';
export * from '../src/core/evaluation';
export * from './baselines';
export * from '../src/core/lambda-calibration';
export * from '../src/core/metrics';
export * from '../src/core/confidence';
export * from './confidence-calibration';
export * from '../src/core/conditional-errors';
export * from './confidence-router';
export * from '../src/core/grading';
export * from '../src/core/difficulty-router';
