import http from 'k6/http';

// No `Options` type: the executor is narrowed with `as const` instead.
export const options = {
  scenarios: {
    lecture_élevée: {
      executor: 'ramping-vus' as const,
      startVUs: 0,
      stages: [
        { duration: '30s', target: 1_0 },
        { duration: '1m', target: 10 as number },
      ],
    },
  },
  thresholds: {
    'http_req_duration{name:/santé}': ['p(95)<400'],
    http_req_failed: ['rate<0.01'],
  } as const,
};

export default function (): void {
  http.get('http://127.0.0.1:8000/health', { tags: { name: '/santé' } });
}
