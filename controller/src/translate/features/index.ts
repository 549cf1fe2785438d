import type { PolicyFeature } from './feature.js';
import { jwtFeature } from './jwt.js';

/** Every policy feature, in the proxy's stage order (upstream: jwt → authorization → rate limit → transformation). */
export const FEATURES: readonly PolicyFeature[] = [jwtFeature];

export type { FeatureName, FeatureTranslation, MergeRule, Phase, PolicyFeature } from './feature.js';
