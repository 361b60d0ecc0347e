import { createTheme, defaultVariantColorsResolver, type VariantColorsResolver } from '@mantine/core';

/**
 * Colours that pass WCAG AA (4.5:1) in every variant: the library's default shades of green,
 * orange, red and yellow are too light for white text or for text on their own tint, so filled
 * components use these dark tones as background (white text) and light/outline ones as text.
 */
const DARK: Record<string, string> = {
  blue: '#174a7c',
  red: '#a61b1b',
  green: '#1b5e20',
  orange: '#8a3c00',
  yellow: '#6b4e00',
  gray: '#343a40',
  dark: '#212529',
  teal: '#0b5345',
  violet: '#4b2aa3',
  grape: '#6a1b7a',
  cyan: '#0b4f5c',
  indigo: '#2f3b8f',
  pink: '#8c1645',
  lime: '#3d5a00',
};

const variantColorResolver: VariantColorsResolver = (input) => {
  const colours = defaultVariantColorsResolver(input);
  const name = String(input.color ?? input.theme.primaryColor).split('.')[0] ?? 'blue';
  const dark = DARK[name];
  if (!dark || !(name in input.theme.colors)) return colours;
  switch (input.variant) {
    case 'filled':
      return { ...colours, background: dark, hover: dark, color: '#fff', border: `1px solid ${dark}` };
    case 'light':
    case 'subtle':
    case 'default':
      return { ...colours, color: dark };
    case 'outline':
      return { ...colours, color: dark, border: `1px solid ${dark}` };
    default:
      return colours;
  }
};

export const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: 9,
  autoContrast: true,
  variantColorResolver,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  defaultRadius: 'sm',
});
