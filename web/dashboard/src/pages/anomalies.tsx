import { useQuery } from '../api';
import { Card, ErrorBox, Loading } from '../components';
import { fmt } from '../format';
import { graphql } from '../graphql';
import { href } from '../router';

const AnomaliesQuery = graphql(`
  query Anomalies {
    anomalousUsers(limit: 50) {
      error
      percentile
      user {
        id
      }
    }
    servingStatus {
      populationSize
      modelVersion {
        id
        kind
      }
    }
  }
`);

/** The users whose histories the active model reconstructs worst: bots, shilling, shared accounts. */
export function AnomaliesPage() {
  const { data, error } = useQuery(AnomaliesQuery, {});
  if (!data) return error ? <ErrorBox error={error} /> : <Loading />;
  const v = data.servingStatus.modelVersion;
  return (
    <Card
      title={`Most anomalous users · version #${v?.id} (${v?.kind}) · ${data.servingStatus.populationSize.toLocaleString('en-US')} users scored`}
      testid="anomalies"
    >
      <p class="muted small">
        Reconstruction error of each user's history under the active version, highest first; the percentile is among
        every user scored at activation.
      </p>
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>User</th>
            <th class="num">Error</th>
            <th class="num">Percentile</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.anomalousUsers.map((a, k) => (
            <tr key={a.user.id}>
              <td class="muted">{k + 1}</td>
              <td>
                <a href={href('users', a.user.id)}>user {a.user.id}</a>
              </td>
              <td class="num">{fmt(a.error, 3)}</td>
              <td class="num">{a.percentile.toFixed(1)}</td>
              <td>
                <a href={href('users', a.user.id)}>explore →</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
