// Durations written as numbers: k6 reads them as milliseconds.
import http from 'k6/http';

export const options = {
  vus: 5,
  duration: 30000,
  thresholds: {
    http_req_duration: [
      { threshold: 'p(95)<250', abortOnFail: true, delayAbortEval: 10000 },
      { threshold: 'p(99)<400', abortOnFail: false, delayAbortEval: '10s' },
    ],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
