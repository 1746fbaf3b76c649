"""Small bundled tables the value simulator draws coherent records from: a city comes with its
country, coordinates and time zone; a ticker with its company; a person with a matching e-mail."""

from __future__ import annotations

import math
from typing import NamedTuple


class City(NamedTuple):
    name: str
    country: str
    country_code: str
    state: str
    latitude: float
    longitude: float
    timezone: str
    currency: str


CITIES = [
    City("Paris", "France", "FR", "Île-de-France", 48.8566, 2.3522, "Europe/Paris", "EUR"),
    City("Lyon", "France", "FR", "Auvergne-Rhône-Alpes", 45.764, 4.8357, "Europe/Paris", "EUR"),
    City("London", "United Kingdom", "GB", "England", 51.5072, -0.1276, "Europe/London", "GBP"),
    City("Berlin", "Germany", "DE", "Berlin", 52.52, 13.405, "Europe/Berlin", "EUR"),
    City("Munich", "Germany", "DE", "Bavaria", 48.1351, 11.582, "Europe/Berlin", "EUR"),
    City("Madrid", "Spain", "ES", "Madrid", 40.4168, -3.7038, "Europe/Madrid", "EUR"),
    City("Barcelona", "Spain", "ES", "Catalonia", 41.3874, 2.1686, "Europe/Madrid", "EUR"),
    City("Rome", "Italy", "IT", "Lazio", 41.9028, 12.4964, "Europe/Rome", "EUR"),
    City("Amsterdam", "Netherlands", "NL", "North Holland", 52.3676, 4.9041, "Europe/Amsterdam", "EUR"),
    City("Vienna", "Austria", "AT", "Vienna", 48.2082, 16.3738, "Europe/Vienna", "EUR"),
    City("Zurich", "Switzerland", "CH", "Zurich", 47.3769, 8.5417, "Europe/Zurich", "CHF"),
    City("Stockholm", "Sweden", "SE", "Stockholm", 59.3293, 18.0686, "Europe/Stockholm", "SEK"),
    City("Warsaw", "Poland", "PL", "Masovia", 52.2297, 21.0122, "Europe/Warsaw", "PLN"),
    City("Athens", "Greece", "GR", "Attica", 37.9838, 23.7275, "Europe/Athens", "EUR"),
    City("Istanbul", "Turkey", "TR", "Istanbul", 41.0082, 28.9784, "Europe/Istanbul", "TRY"),
    City("Dubai", "United Arab Emirates", "AE", "Dubai", 25.2048, 55.2708, "Asia/Dubai", "AED"),
    City("Mumbai", "India", "IN", "Maharashtra", 19.076, 72.8777, "Asia/Kolkata", "INR"),
    City("Bangkok", "Thailand", "TH", "Bangkok", 13.7563, 100.5018, "Asia/Bangkok", "THB"),
    City("Singapore", "Singapore", "SG", "Singapore", 1.3521, 103.8198, "Asia/Singapore", "SGD"),
    City("Shanghai", "China", "CN", "Shanghai", 31.2304, 121.4737, "Asia/Shanghai", "CNY"),
    City("Hong Kong", "China", "HK", "Hong Kong", 22.3193, 114.1694, "Asia/Hong_Kong", "HKD"),
    City("Seoul", "South Korea", "KR", "Seoul", 37.5665, 126.978, "Asia/Seoul", "KRW"),
    City("Tokyo", "Japan", "JP", "Tokyo", 35.6762, 139.6503, "Asia/Tokyo", "JPY"),
    City("Sydney", "Australia", "AU", "New South Wales", -33.8688, 151.2093, "Australia/Sydney", "AUD"),
    City("Auckland", "New Zealand", "NZ", "Auckland", -36.8485, 174.7633, "Pacific/Auckland", "NZD"),
    City("New York", "United States", "US", "NY", 40.7128, -74.006, "America/New_York", "USD"),
    City("Boston", "United States", "US", "MA", 42.3601, -71.0589, "America/New_York", "USD"),
    City("Chicago", "United States", "US", "IL", 41.8781, -87.6298, "America/Chicago", "USD"),
    City("Austin", "United States", "US", "TX", 30.2672, -97.7431, "America/Chicago", "USD"),
    City("Denver", "United States", "US", "CO", 39.7392, -104.9903, "America/Denver", "USD"),
    City("Seattle", "United States", "US", "WA", 47.6062, -122.3321, "America/Los_Angeles", "USD"),
    City("San Francisco", "United States", "US", "CA", 37.7749, -122.4194, "America/Los_Angeles", "USD"),
    City("Los Angeles", "United States", "US", "CA", 34.0522, -118.2437, "America/Los_Angeles", "USD"),
    City("Miami", "United States", "US", "FL", 25.7617, -80.1918, "America/New_York", "USD"),
    City("Toronto", "Canada", "CA", "ON", 43.6532, -79.3832, "America/Toronto", "CAD"),
    City("Vancouver", "Canada", "CA", "BC", 49.2827, -123.1207, "America/Vancouver", "CAD"),
    City("Mexico City", "Mexico", "MX", "CDMX", 19.4326, -99.1332, "America/Mexico_City", "MXN"),
    City("São Paulo", "Brazil", "BR", "SP", -23.5505, -46.6333, "America/Sao_Paulo", "BRL"),
    City(
        "Buenos Aires",
        "Argentina",
        "AR",
        "Buenos Aires",
        -34.6037,
        -58.3816,
        "America/Argentina/Buenos_Aires",
        "USD",
    ),
    City("Cape Town", "South Africa", "ZA", "Western Cape", -33.9249, 18.4241, "Africa/Johannesburg", "ZAR"),
    City("Nairobi", "Kenya", "KE", "Nairobi", -1.2921, 36.8219, "Africa/Nairobi", "USD"),
]
LANDMARKS = {
    "eiffel tower": "Paris",
    "louvre": "Paris",
    "big ben": "London",
    "colosseum": "Rome",
    "brandenburg gate": "Berlin",
    "statue of liberty": "New York",
    "times square": "New York",
    "golden gate": "San Francisco",
    "shibuya": "Tokyo",
    "opera house": "Sydney",
    "sagrada familia": "Barcelona",
}


class Company(NamedTuple):
    symbol: str
    name: str
    exchange: str
    sector: str
    price: float


COMPANIES = [
    Company("AAPL", "Apple Inc.", "NASDAQ", "Technology", 212.4),
    Company("MSFT", "Microsoft Corporation", "NASDAQ", "Technology", 468.9),
    Company("GOOGL", "Alphabet Inc.", "NASDAQ", "Communication Services", 176.3),
    Company("AMZN", "Amazon.com, Inc.", "NASDAQ", "Consumer Cyclical", 207.2),
    Company("NVDA", "NVIDIA Corporation", "NASDAQ", "Technology", 141.7),
    Company("META", "Meta Platforms, Inc.", "NASDAQ", "Communication Services", 694.1),
    Company("TSLA", "Tesla, Inc.", "NASDAQ", "Consumer Cyclical", 322.1),
    Company("JPM", "JPMorgan Chase & Co.", "NYSE", "Financial Services", 268.9),
    Company("V", "Visa Inc.", "NYSE", "Financial Services", 356.0),
    Company("JNJ", "Johnson & Johnson", "NYSE", "Healthcare", 153.2),
    Company("WMT", "Walmart Inc.", "NYSE", "Consumer Defensive", 97.8),
    Company("KO", "The Coca-Cola Company", "NYSE", "Consumer Defensive", 71.6),
    Company("DIS", "The Walt Disney Company", "NYSE", "Communication Services", 113.4),
    Company("NFLX", "Netflix, Inc.", "NASDAQ", "Communication Services", 1221.5),
    Company("INTC", "Intel Corporation", "NASDAQ", "Technology", 20.9),
    Company("IBM", "International Business Machines", "NYSE", "Technology", 271.3),
    Company("SAP", "SAP SE", "NYSE", "Technology", 301.5),
    Company("TM", "Toyota Motor Corporation", "NYSE", "Consumer Cyclical", 173.8),
]
FIRST_NAMES = [
    "Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kwame",
    "Laura", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko", "Yusuf", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Martin", "Schmidt", "Garcia", "Smith", "Tanaka", "Rossi", "Novak", "Silva", "Dubois", "Okafor",
    "Johansson", "Kim", "Patel", "Nguyen", "Kowalski", "Müller", "Haddad", "Cohen", "Moreau", "Brown",
]  # fmt: skip
STREETS = {
    "FR": ["Rue de Rivoli", "Avenue des Ternes", "Rue Oberkampf", "Boulevard Voltaire"],
    "GB": ["Baker Street", "King's Road", "Camden High Street", "Oxford Street"],
    "DE": ["Friedrichstraße", "Kastanienallee", "Torstraße", "Schillerstraße"],
    "ES": ["Calle Mayor", "Gran Vía", "Calle de Alcalá", "Passeig de Gràcia"],
    "IT": ["Via del Corso", "Via Nazionale", "Via Cavour", "Via Veneto"],
    "JP": ["Chuo-dori", "Omotesando", "Meiji-dori", "Yasukuni-dori"],
}
DEFAULT_STREETS = ["Main Street", "Oak Avenue", "Park Road", "Market Street", "Maple Drive", "Harbor Way"]


def find_city(text: str) -> City | None:
    """The table's city named in ``text`` (``"Eiffel Tower, Paris"``, ``"boston"``), or None."""
    lowered = f" {text.lower()} "
    for landmark, city in LANDMARKS.items():
        if landmark in lowered:
            return next(c for c in CITIES if c.name == city)
    best = None
    for city in CITIES:
        name = city.name.lower()
        at = lowered.find(name)
        whole = at >= 0 and not lowered[at - 1].isalnum() and not lowered[at + len(name)].isalnum()
        if whole and (best is None or len(city.name) > len(best.name)):
            best = city
    return best


def nearest_city(latitude: float, longitude: float) -> City:
    """The table's city closest to a point (great-circle distance)."""

    def distance(city: City) -> float:
        la1, lo1, la2, lo2 = map(math.radians, (latitude, longitude, city.latitude, city.longitude))
        h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
        return 2 * math.asin(min(1.0, math.sqrt(h)))

    return min(CITIES, key=distance)


def find_company(text: str) -> Company | None:
    upper = text.strip().upper()
    return next((c for c in COMPANIES if c.symbol == upper or c.name.upper().startswith(upper)), None)
