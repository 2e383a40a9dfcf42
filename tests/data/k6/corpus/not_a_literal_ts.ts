import { Options } from 'k6/options';
import { baseOptions } from './common.ts';

export const options: Options = {
  ...baseOptions,
  thresholds: { http_req_failed: ['rate<0.01'] },
};

export default function () {}
