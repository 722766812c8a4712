export * from './smccc.js';
export * from './qcom-scm.js';
