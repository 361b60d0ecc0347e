import { Anchor, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

export function NotFoundPage() {
  return (
    <Stack>
      <Title order={2}>Page not found</Title>
      <Text>
        This page does not exist. Go to the{' '}
        <Anchor component={Link} to="/">
          deviation board
        </Anchor>
        .
      </Text>
    </Stack>
  );
}
